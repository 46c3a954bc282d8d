"""`python -m chainctl ...` is the same as the `migratieketen` command."""

from chainctl.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
