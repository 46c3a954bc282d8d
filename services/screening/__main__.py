"""Start the screening service: `python -m screening`."""

from chainkit.runtime import run
from screening.service import SPEC

if __name__ == "__main__":
    run(SPEC)
