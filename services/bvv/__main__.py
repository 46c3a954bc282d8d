"""Start the bvv service: `python -m bvv`."""

from chainkit.runtime import run
from bvv.service import SPEC

if __name__ == "__main__":
    run(SPEC)
