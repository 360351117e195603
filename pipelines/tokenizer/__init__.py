"""The tokenizer job, `shardlm tokenizer`: documents -> a `transformers` tokenizer folder.

`job.py` wires it; `train.py` trains, saves and loads tokenizers (pure, no Beam).
"""
