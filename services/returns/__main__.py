"""Start the returns service: `python -m returns`."""

from chainkit.runtime import run
from returns.service import SPEC

if __name__ == "__main__":
    run(SPEC)
