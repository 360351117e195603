"""shardlm: the `shardlm` console script and the end-to-end demo.

The package holds no logic of its own beyond orchestration (DESIGN.md "Packages"):
`shardlm.cli` dispatches each subcommand to its package's `main(argv)`, and
`shardlm.demo` runs the whole flow on a corpus from `shardlm.sample_corpus`.
"""

__version__ = "0.1.0"
