"""Frozen configuration of a training run, the masking recipe, model sizes and model specs.

Presets are named module constants (STYLE.md #5): `SIZES["tiny"]` etc. The command line
picks a model and a size and overrides a few fields of `TrainConfig`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

# The registered model names (trainer.models.MODELS has one spec each), known without importing
# transformers, so `shardlm train --help` and flag errors do not pay for loading torch.
MODEL_NAMES = ("bert", "roberta")


@dataclass(frozen=True, kw_only=True)
class MaskingConfig:
    """BERT-style dynamic masking.

    15% of maskable tokens are selected; of those 80% become [MASK], 10% a random token,
    10% stay unchanged (Devlin et al. 2019, "BERT", section 3.1 "Task #1: Masked LM").
    """

    mask_prob: float = 0.15
    replace_mask: float = 0.8
    replace_random: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 < self.mask_prob < 1.0:
            raise ValueError(f"--mask-prob must be in (0, 1), got {self.mask_prob}")
        if self.replace_mask < 0 or self.replace_random < 0 or self.replace_mask + self.replace_random > 1:
            raise ValueError(f"replace_mask + replace_random must be within [0, 1], got "
                             f"{self.replace_mask} + {self.replace_random}")


@dataclass(frozen=True, kw_only=True)
class ModelSize:
    """Transformer dimensions of one size preset, with its default peak learning rate."""

    name: str
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    lr: float
    # 512 positions: the longest sequence BERT and RoBERTa were pretrained on (BERT paper, A.2).
    max_seq_len: int = 512


SIZES: dict[str, ModelSize] = {
    # tiny/small follow the compact BERTs of Turc et al. 2019 ("Well-Read Students Learn Better",
    # BERT-Tiny uses H=128; tiny here is smaller still so CPU tests run in seconds).
    "tiny": ModelSize(name="tiny", hidden_size=64, num_layers=2, num_heads=2, intermediate_size=256, lr=1e-3),
    "small": ModelSize(name="small", hidden_size=256, num_layers=4, num_heads=4, intermediate_size=1024, lr=5e-4),
    # base: BERT-base dimensions; lr 1e-4 from BERT paper appendix A.2.
    "base": ModelSize(name="base", hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072, lr=1e-4),
}


@dataclass(frozen=True, kw_only=True)
class VocabInfo:
    """What a model needs to know about the shard set's tokenizer (from its manifest)."""

    vocab_size: int
    special_ids: dict[str, int]

    @property
    def pad_id(self) -> int:
        return self.special_ids["pad"]

    @property
    def mask_id(self) -> int:
        return self.special_ids["mask"]

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> "VocabInfo":
        tok = manifest["tokenizer"]
        specials = {k: int(v) for k, v in tok.get("special_ids", {}).items() if v is not None}
        missing = [k for k in ("pad", "mask") if k not in specials]
        if missing:
            raise ValueError(f"the shard set's tokenizer lacks special ids {', '.join(missing)}; "
                             f"rebuild the tokenizer with `shardlm tokenizer` (it adds [PAD] and [MASK])")
        return cls(vocab_size=int(tok["vocab_size"]), special_ids=specials)


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """One registry entry: how to build the model and what it trains on (STYLE.md #6).

    `build_config(size, vocab, seq_len)` returns the `transformers` config;
    `losses(outputs, batch)` returns {"loss", "mlm_loss", ...} as scalar tensors;
    `mlm_logits(outputs)` returns the token prediction logits.
    """

    name: str
    objective: str  # what the model learns, e.g. "mlm+nsp"
    shard_objective: str  # the `shardlm build --objective` its shards need
    shard_objective_help: str  # what those shards hold, for error messages
    model_class: type
    auto_class: str  # the transformers Auto class that reloads the export
    build_config: Callable[..., Any]
    losses: Callable[[Any, dict], dict]
    mlm_logits: Callable[[Any], Any]
    uses_token_types: bool


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """One `shardlm train` run. Required fields have no default."""

    model: str
    size: str
    data: str
    output: str
    max_steps: int
    batch_size: int = 32
    lr: float | None = None  # None: the size's default
    warmup_steps: int | None = None  # None: 10% of max_steps
    grad_accum: int = 1
    seed: int = 0
    weight_decay: float = 0.01
    masking: MaskingConfig = field(default_factory=MaskingConfig)
    log_every: int = 10
    checkpoint_every: int | None = None  # None: only at max_steps
    eval_every: int | None = None  # None: only at the end
    eval_data: str | None = None  # None: the `valid` split of --data when it is a folder/manifest
    eval_batches: int = 8
    num_workers: int = 0
    shuffle_buffer: int = 10_000
    device: str = "auto"
    resume: bool = False
    storage_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        positive = {"--max-steps": self.max_steps, "--batch-size": self.batch_size,
                    "--grad-accum": self.grad_accum, "--log-every": self.log_every,
                    "--eval-batches": self.eval_batches}
        for flag in ("checkpoint_every", "eval_every"):
            if getattr(self, flag) is not None:
                positive["--" + flag.replace("_", "-")] = getattr(self, flag)
        for flag, value in positive.items():
            if value <= 0:
                raise ValueError(f"{flag} must be positive, got {value}")
        if self.num_workers < 0 or self.shuffle_buffer < 0:
            raise ValueError("--num-workers and --shuffle-buffer must not be negative")
        if self.warmup_steps is not None and not 0 <= self.warmup_steps <= self.max_steps:
            raise ValueError(f"--warmup-steps must be within [0, --max-steps={self.max_steps}], got {self.warmup_steps}")
        if self.size not in SIZES:
            raise ValueError(f"unknown size {self.size!r}; choose one of {', '.join(SIZES)}")
        if "://" in self.output:
            raise ValueError(f"--output {self.output} must be a local folder (checkpoints are written locally); "
                             f"copy DIR/hf to object storage after the run")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"--device must be auto, cpu or cuda, got {self.device!r}")

    @property
    def peak_lr(self) -> float:
        return self.lr if self.lr is not None else SIZES[self.size].lr

    @property
    def num_warmup_steps(self) -> int:
        # 10% of the run: the project's documented default (BERT used 10k of 1M steps, RoBERTa
        # 24k of 500k; short runs warm up relatively longer).
        return self.warmup_steps if self.warmup_steps is not None else self.max_steps // 10

    @property
    def checkpoint_interval(self) -> int:
        return self.checkpoint_every or self.max_steps

    def to_json(self) -> dict[str, Any]:
        """The config as JSON values; storage option values are redacted (they may hold credentials)."""
        values = asdict(self)
        values["storage_options"] = {k: "<redacted>" for k in self.storage_options}
        return values
