"""Start the asylum service: `python -m asylum`."""

from asylum.service import SPEC
from chainkit.runtime import run

if __name__ == "__main__":
    run(SPEC)
