"""`python -m trainer ...` and `torchrun --nproc_per_node N -m trainer ...`.

Prints the run's summary as JSON on rank 0; a configuration error prints one line and exits 2,
through the same `schemas.errors.run_main` as `shardlm train`.
"""

import json
import os
import sys

from schemas.errors import configure_logging, run_main
from trainer.cli import main


def train_and_print(argv: list[str]) -> None:
    summary = main(argv)
    if os.environ.get("RANK", "0") == "0":
        print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    configure_logging()
    sys.exit(run_main("shardlm train", train_and_print, sys.argv[1:], extra="train"))
