"""`python -m pipelines.tokenizer`: the `shardlm tokenizer` job (its `main` is pipelines/tokenizer/job.py).

Run through the console script's dispatcher, so the job's functions are pickled as
`pipelines.tokenizer.job.*` (not `__main__.*`, which Beam workers cannot import) and configuration
errors print one line.
"""

import sys

from shardlm.cli import main as shardlm_main

sys.exit(shardlm_main(["tokenizer", *sys.argv[1:]]))
