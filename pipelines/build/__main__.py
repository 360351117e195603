"""`python -m pipelines.build`: the `shardlm build` job (its `main` is pipelines/build/job.py).

The job's functions are imported from `pipelines.build.job`, so Beam pickles them by that name
(not `__main__.*`, which workers cannot import); a configuration error prints one line and exits
2, through the same `schemas.errors.run_main` as `shardlm build`.
"""

import sys

from pipelines.build.job import main
from schemas.errors import configure_logging, run_main

if __name__ == "__main__":
    configure_logging()
    sys.exit(run_main("shardlm build", main, sys.argv[1:], extra="tokenizer"))
