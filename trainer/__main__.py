"""`python -m trainer ...` and `torchrun --nproc_per_node N -m trainer ...`.

Prints the run's summary as JSON on rank 0; a configuration error prints one line and exits 2,
as `shardlm train` does.
"""

import json
import logging
import os
import sys

from trainer.cli import main

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    try:
        summary = main()
    except (ValueError, OSError) as err:
        print(f"shardlm train: error: {' '.join(str(err).split())}", file=sys.stderr)
        sys.exit(2)
    if os.environ.get("RANK", "0") == "0":
        print(json.dumps(summary, indent=2))
