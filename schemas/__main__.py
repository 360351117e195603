"""`python -m schemas URL [--rows N] [--storage-options JSON]`: inspect a dataset."""

import sys

from schemas.cli import main


def run() -> int:
    """Like `shardlm schema`: bad URLs print one error line and exit 2."""
    try:
        main(sys.argv[1:])
    except (ValueError, FileNotFoundError) as err:
        print(f"python -m schemas: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(run())
