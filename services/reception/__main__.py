"""Start the reception service: `python -m reception`."""

from chainkit.runtime import run
from reception.service import SPEC

if __name__ == "__main__":
    run(SPEC)
