"""`python -m shardlm ...` runs the console script."""

import sys

from shardlm.cli import main

if __name__ == "__main__":
    sys.exit(main())
