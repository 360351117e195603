"""The streaming trainer: model registry, dynamic masking, training loop, checkpoints, HF export.

Entry point: `trainer.cli.main(argv)` (also `python -m trainer`, `torchrun -m trainer`,
`shardlm train`). Programmatic use: `trainer.run.train(TrainConfig(...))`.
"""
