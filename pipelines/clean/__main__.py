"""`python -m pipelines.clean`: the `shardlm clean` job (its `main` is pipelines/clean/job.py).

The job's functions are imported from `pipelines.clean.job`, so Beam pickles them by that name
(not `__main__.*`, which workers cannot import); a configuration error prints one line and exits
2, through the same `schemas.errors.run_main` as `shardlm clean`.
"""

import sys

from pipelines.clean.job import main
from schemas.errors import configure_logging, run_main

if __name__ == "__main__":
    configure_logging()
    sys.exit(run_main("shardlm clean", main, sys.argv[1:]))
