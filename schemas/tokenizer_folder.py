"""The `tokenizer_config.json` of every tokenizer folder shardlm writes (`shardlm tokenizer`, a
vocabulary `shardlm build` converts, the trainer's Hugging Face export).

`save_pretrained` of transformers 5 names the class `TokenizersBackend`, which 4.x lacks, so
`AutoTokenizer.from_pretrained` of 4.x fails on the folder. `PreTrainedTokenizerFast` is known to
both and reads `tokenizer.json` as it is.
"""

from __future__ import annotations

import json

TOKENIZER_CLASS = "PreTrainedTokenizerFast"
CONFIG_FILE = "tokenizer_config.json"
VERSION_5_KEYS = ("backend",)  # read by 5.x only; 4.x would pass it to the class as an argument


def make_portable(config_path: str) -> None:
    """Rewrite a `tokenizer_config.json` (a local path) so transformers 4.x and 5.x both load it."""
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    config["tokenizer_class"] = TOKENIZER_CLASS
    for key in VERSION_5_KEYS:
        config.pop(key, None)
    with open(config_path, "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
