"""`python -m market.sweep sweep|report ...`: the sweep commands without the main CLI."""

import sys

from market.sweep.cli import main

if __name__ == "__main__":
    sys.exit(main())
