"""`python -m trainer ...` and `torchrun --nproc_per_node N -m trainer ...`."""

import json
import os

from trainer.cli import main

if __name__ == "__main__":
    summary = main()
    if os.environ.get("RANK", "0") == "0":
        print(json.dumps(summary, indent=2))
