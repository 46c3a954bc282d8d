"""Start the asylum service: `python -m asylum`."""

from chainkit.runtime import run
from asylum.service import SPEC

if __name__ == "__main__":
    run(SPEC)
