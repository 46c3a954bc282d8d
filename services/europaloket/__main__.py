"""Start the europaloket service: `python -m europaloket`."""

from chainkit.runtime import run
from europaloket.service import SPEC

if __name__ == "__main__":
    run(SPEC)
