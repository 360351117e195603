"""`python -m pipelines.clean`: the `shardlm clean` job (its `main` is pipelines/clean/job.py).

Run through the console script's dispatcher, so the job's functions are pickled as
`pipelines.clean.job.*` (not `__main__.*`, which Beam workers cannot import) and configuration
errors print one line.
"""

import sys

from shardlm.cli import main as shardlm_main

sys.exit(shardlm_main(["clean", *sys.argv[1:]]))
