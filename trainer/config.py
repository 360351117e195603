"""Frozen configuration of a training run, model sizes, optimisation recipes and vocabulary info.

Presets are named (STYLE.md #5): each model file holds its own size table (`SIZES`) and recipe;
masking presets live in `trainer.masking`. The command line picks a model, a size and a masking
preset, and overrides a few fields of `TrainConfig`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Every model offers these sizes (trainer/models/<name>.py: SIZES); known here without importing
# a model file, so `shardlm train --help` and flag errors do not pay for loading torch.
SIZE_NAMES = ("tiny", "small", "base", "large")
# TrainConfig fields that only some models take (those whose ModelSpec.options name them); any
# other model refuses them, so a flag is never silently ignored.
MODEL_OPTIONS = ("teacher", "lang_alpha")
# --precision (trainer.hardware.resolve_precision turns auto into fp32 or bf16 for the device).
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True, kw_only=True)
class ModelSize:
    """Transformer dimensions of one size preset, with its training defaults: peak learning rate,
    dropout (hidden and attention), masking rate (None: the masking preset's 0.15) and whether the
    learned position table starts from sine waves (trainer.models.positions) instead of N(0, 0.02)."""

    name: str
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    lr: float
    dropout: float = 0.1
    mask_prob: float | None = None
    sinusoidal_positions: bool = False


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """A model's optimisation recipe (from its paper); `--lr`, `--weight-decay`, `--max-grad-norm`
    override single fields."""

    optimizer: str = "adamw"  # a key of trainer.schedule.OPTIMIZERS
    betas: tuple[float, float]
    eps: float
    weight_decay: float = 0.01
    max_grad_norm: float | None  # None: no clipping


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
class TrainConfig:
    """One `shardlm train` run. Required fields have no default; None means "the model's recipe"."""

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
    weight_decay: float | None = None  # None: the model's recipe
    max_grad_norm: float | None = None  # None: the model's recipe; 0: no clipping
    masking: str | None = None  # a trainer.masking.PRESETS name; None: the model's default
    mask_prob: float | None = None  # None: the preset's (0.15)
    max_predictions: int | None = None  # cap on selected tokens per sequence; None: no cap
    teacher: str | None = None  # distilbert: the BERT masked-LM folder it distils
    init: str | None = None  # a finished run's folder whose exported weights this run starts from
    more_data: list[str] | None = None  # xlm: further shard sets (--data again), one batch from each in turn
    lang_alpha: float | None = None  # xlm, xlmr: language sampling exponent; None: the model's (0.5, 0.3)
    log_every: int = 10
    checkpoint_every: int | None = None  # None: only at max_steps
    eval_every: int | None = None  # None: only at the end
    eval_data: str | None = None  # None: the `valid` split of --data when it is a folder/manifest
    eval_batches: int = 8
    num_workers: int = 0
    shuffle_buffer: int = 10_000
    length_groups: int = 1  # windows of this many batches sorted by length, then cut (shards.batches)
    device: str = "auto"
    precision: str = "auto"  # auto: bf16 on a CUDA device that supports it, else fp32 (trainer.hardware)
    compile: bool = False  # torch.compile the task the loop calls
    resume: bool = False
    storage_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        positive = {"--max-steps": self.max_steps, "--batch-size": self.batch_size,
                    "--grad-accum": self.grad_accum, "--log-every": self.log_every,
                    "--eval-batches": self.eval_batches, "--length-groups": self.length_groups}
        for flag in ("checkpoint_every", "eval_every", "max_predictions"):
            if getattr(self, flag) is not None:
                positive["--" + flag.replace("_", "-")] = getattr(self, flag)
        for flag, value in positive.items():
            if value <= 0:
                raise ValueError(f"{flag} must be positive, got {value}")
        if self.lang_alpha is not None and self.lang_alpha < 0:
            raise ValueError(f"--lang-alpha must not be negative, got {self.lang_alpha}")
        if self.more_data and self.num_workers:
            raise ValueError("several --data shard sets alternate in the training process; use --num-workers 0")
        if self.num_workers < 0 or self.shuffle_buffer < 0:
            raise ValueError("--num-workers and --shuffle-buffer must not be negative")
        if self.warmup_steps is not None and not 0 <= self.warmup_steps <= self.max_steps:
            raise ValueError(f"--warmup-steps must be within [0, --max-steps={self.max_steps}], got {self.warmup_steps}")
        if self.size not in SIZE_NAMES:
            raise ValueError(f"unknown size {self.size!r}; choose one of {', '.join(SIZE_NAMES)}")
        if self.mask_prob is not None and not 0.0 < self.mask_prob < 1.0:
            raise ValueError(f"--mask-prob must be in (0, 1), got {self.mask_prob}")
        for flag, value in (("--weight-decay", self.weight_decay), ("--max-grad-norm", self.max_grad_norm)):
            if value is not None and value < 0:
                raise ValueError(f"{flag} must not be negative, got {value}")
        if self.init is not None and "://" in self.init:
            raise ValueError(f"--init {self.init} must be a local folder; copy the finished run's folder here first")
        if "://" in self.output:
            raise ValueError(f"--output {self.output} must be a local folder (checkpoints are written locally); "
                             f"copy DIR/hf to object storage after the run")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"--device must be auto, cpu or cuda, got {self.device!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")

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
