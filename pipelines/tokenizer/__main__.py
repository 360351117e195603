"""`python -m pipelines.tokenizer`: the `shardlm tokenizer` job (its `main` is pipelines/tokenizer/job.py).

The job's functions are imported from `pipelines.tokenizer.job`, so Beam pickles them by that name
(not `__main__.*`, which workers cannot import); a configuration error prints one line and exits
2, through the same `schemas.errors.run_main` as `shardlm tokenizer`.
"""

import sys

from pipelines.tokenizer.job import main
from schemas.errors import configure_logging, run_main

if __name__ == "__main__":
    configure_logging()
    sys.exit(run_main("shardlm tokenizer", main, sys.argv[1:], extra="tokenizer"))
