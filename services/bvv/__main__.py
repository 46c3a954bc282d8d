"""Start the bvv service: `python -m bvv`."""

from bvv.service import SPEC
from chainkit.runtime import run

if __name__ == "__main__":
    run(SPEC)
