"""The GPU path checked on CPU: precision choice, bf16 autocast against fp32, TF32 only on CUDA,
fused AdamW against the default, SDPA against eager attention, and --compile's wiring."""

from __future__ import annotations

import json

import pytest
import torch

from trainer import hardware
from trainer.config import TrainConfig, VocabInfo
from trainer.hardware import autocast, enable_tf32, resolve_precision, use_sdpa
from trainer.models import MODEL_NAMES
from trainer.models.bert import RECIPE
from trainer.schedule import build_optimizer, fusable, param_groups

VOCAB = VocabInfo(vocab_size=120, special_ids={"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4})
CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def pair_batch(seed: int = 0, batch: int = 4, seq: int = 16) -> dict[str, torch.Tensor]:
    """BERT's task inputs with padding (the last two rows end early) and about 30% of tokens selected."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB.vocab_size, (batch, seq), generator=g)
    attention = torch.ones_like(ids)
    attention[-2:, seq // 2:] = 0
    ids[attention == 0] = VOCAB.pad_id
    labels = torch.full_like(ids, -100)
    selected = (torch.rand(batch, seq, generator=g) < 0.3) & attention.bool()
    labels[selected] = ids[selected]
    masked = ids.masked_fill(selected, VOCAB.mask_id)
    return {"input_ids": masked, "attention_mask": attention, "labels": labels,
            "token_type_ids": torch.zeros_like(ids), "pair_label": torch.randint(0, 2, (batch,), generator=g)}


def test_precision_auto_is_fp32_on_cpu_and_bf16_on_a_gpu_that_has_it(monkeypatch):
    assert resolve_precision("auto", CPU) == "fp32"
    assert resolve_precision("bf16", CPU) == "bf16" and resolve_precision("fp32", CPU) == "fp32"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_precision("auto", CUDA) == "bf16" and resolve_precision("fp32", CUDA) == "fp32"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Tesla V100")
    assert resolve_precision("auto", CUDA) == "fp32"
    with pytest.raises(ValueError, match="Tesla V100 has no bf16 support; use --precision fp32"):
        resolve_precision("bf16", CUDA)
    with pytest.raises(ValueError, match="--precision must be"):
        TrainConfig(model="bert", size="tiny", data="d", output="o", max_steps=1, precision="fp16")


def test_precision_and_compile_flags_reach_the_config(capsys):
    from trainer.cli import build_parser, config_from_args

    base = ["--model", "bert", "--data", "d", "--output", "o", "--max-steps", "1"]
    default = config_from_args(build_parser().parse_args(base))
    assert (default.precision, default.compile) == ("auto", False)
    chosen = config_from_args(build_parser().parse_args(base + ["--precision", "bf16", "--compile"]))
    assert (chosen.precision, chosen.compile) == ("bf16", True)
    with pytest.raises(SystemExit):
        build_parser().parse_args(base + ["--precision", "fp16"])
    assert "invalid choice: 'fp16'" in capsys.readouterr().err


def test_tf32_is_switched_on_for_cuda_only():
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        assert enable_tf32(CPU) is False and torch.backends.cuda.matmul.allow_tf32 is False
        assert enable_tf32(CUDA) is True
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        assert torch.get_float32_matmul_precision() == "high"  # what inductor reads: no legacy/new API mix
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def test_bf16_autocast_runs_the_matmuls_in_bf16_and_keeps_the_loss_close_to_fp32(make_task):
    task = make_task("bert", VOCAB).eval()
    inputs = pair_batch()
    seen = []
    hook = task.network.bert.encoder.layer[0].attention.self.query.register_forward_hook(
        lambda module, args, out: seen.append(out.dtype))
    fp32 = task(inputs).loss
    with autocast("bf16", CPU):
        bf16 = task(inputs)
    hook.remove()
    assert seen == [torch.float32, torch.bfloat16]
    assert bf16.loss.dtype == torch.float32 and torch.isfinite(bf16.loss)
    assert float(bf16.loss.detach()) == pytest.approx(float(fp32.detach()), rel=2e-2)
    bf16.loss.backward()
    grads = [p.grad for _, p in task.trainable_parameters() if p.grad is not None]
    assert grads and all(g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)
    with autocast("fp32", CPU):
        assert float(task(inputs).loss.detach()) == float(fp32.detach())  # fp32: no autocast at all


def test_fused_adamw_takes_the_same_step_and_is_the_default(make_task):
    steps = {}
    for fused in (False, None):
        task = make_task("bert", VOCAB)
        opt = build_optimizer(task.trainable_parameters(), recipe=RECIPE, lr=1e-2, weight_decay=0.01, fused=fused)
        assert opt.defaults["fused"] is (None if fused is False else True)
        for seed in range(2):
            opt.zero_grad()
            task(pair_batch(seed)).loss.backward()
            opt.step()
        steps[fused] = dict(task.trainable_parameters())
    # Each step moves a weight by up to lr = 1e-2. The attention key bias gets a gradient of about
    # zero (softmax ignores it), and Adam's m / sqrt(v) turns the two kernels' rounding there into
    # differences of ~1e-6 at 2 x 128: 1e-5 still catches a step that is not the same one.
    assert all(torch.allclose(steps[None][n], steps[False][n], atol=1e-5) for n in steps[None])
    assert not torch.equal(steps[None]["network.cls.predictions.bias"], make_task("bert", VOCAB).network.cls.predictions.bias)
    groups = param_groups(make_task("bert", VOCAB).trainable_parameters(), 0.01)
    assert fusable(groups) is True and fusable([{"params": []}]) is False
    assert fusable([{"params": [torch.zeros(2, dtype=torch.long)]}]) is False


# The six model classes transformers 5 gives an SDPA path; XLM and Longformer have none.
SDPA_MODELS = {"bert", "roberta", "electra", "distilbert", "albert", "xlmr"}


def networks_of(name: str, make_task) -> dict[str, torch.nn.Module]:
    """The model's exported networks (distilbert: a student built from a tiny BERT teacher)."""
    if name == "distilbert":
        from trainer.models.distilbert import student_from_teacher
        from transformers import BertForMaskedLM

        teacher = BertForMaskedLM(make_task("bert", VOCAB).network.config)
        return {"hf": student_from_teacher(teacher, VOCAB.pad_id)}
    return make_task(name, VOCAB).exports()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_sdpa_where_the_model_has_it_gives_the_logits_of_eager_attention(name, make_task):
    torch.manual_seed(0)
    networks = networks_of(name, make_task)
    implementations = use_sdpa(torch.nn.ModuleDict(networks))
    expected = "sdpa" if name in SDPA_MODELS else "eager"
    assert implementations == {key: expected for key in networks}
    inputs = pair_batch(seed=1)
    inputs = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
    for network in networks.values():
        network.eval()
        with torch.no_grad():
            fast = network(**inputs)[0]
            network.set_attn_implementation("eager")
            eager = network(**inputs)[0]
        assert network.config._attn_implementation == "eager"
        real = inputs["attention_mask"].bool()  # padded positions' outputs are not used
        assert torch.allclose(fast[real], eager[real], atol=1e-5), (name, (fast[real] - eager[real]).abs().max())


def test_the_attention_choice_is_not_saved_in_the_export(make_task, tmp_path):
    network = make_task("bert", VOCAB).network
    configs = []
    for implementation in ("sdpa", "eager"):
        network.set_attn_implementation(implementation)
        network.save_pretrained(tmp_path / implementation)
        configs.append(json.loads((tmp_path / implementation / "config.json").read_text()))
    assert configs[0] == configs[1] and not any("attn" in key for key in configs[0])


def run_config(shards, out, **overrides) -> TrainConfig:
    return TrainConfig(model="bert", size="tiny", data=str(shards), output=str(out), max_steps=3, batch_size=8,
                       log_every=1, eval_batches=1, device="cpu", **overrides)


def train_losses(shards, out, **overrides):
    from trainer.run import train

    result = train(run_config(shards, out, **overrides))
    losses = [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()
              if "loss" in json.loads(line)]
    return result, losses


@pytest.mark.slow
def test_bf16_training_on_cpu_stays_close_to_fp32(nsp_shards, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _, fp32 = train_losses(nsp_shards, tmp_path / "fp32", precision="fp32")
    result, bf16 = train_losses(nsp_shards, tmp_path / "bf16", precision="bf16")
    assert len(bf16) == len(fp32) == 3 and all(torch.isfinite(torch.tensor(bf16)))
    assert bf16 == pytest.approx(fp32, rel=2e-2) and bf16 != fp32  # autocast ran, and changed little
    assert all(p.dtype == torch.float32 for p in result.model.parameters())  # weights stay fp32


@pytest.mark.slow
def test_compile_trains_like_eager_and_keeps_checkpoints_and_exports_plain(nsp_shards, tmp_path, monkeypatch):
    """--compile with the aot_eager backend: dynamo's graph capture and the compiled autograd graph,
    without inductor's C++ build (minutes on two cores; the GPU benchmark runs inductor)."""
    from safetensors.torch import load_file
    from transformers import AutoModelForPreTraining

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hardware, "COMPILE_BACKEND", "aot_eager")
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    compiled = []
    real_compile = hardware.compile_model
    monkeypatch.setattr("trainer.run.compile_model", lambda model: compiled.append(model) or real_compile(model))
    _, plain = train_losses(nsp_shards, tmp_path / "plain")
    result, fast = train_losses(nsp_shards, tmp_path / "compiled", compile=True)
    assert len(compiled) == 1 and torch._dynamo.utils.counters["stats"]["unique_graphs"] > 0
    assert fast == pytest.approx(plain, rel=1e-4)
    weights = load_file(tmp_path / "compiled" / "checkpoints" / "step-3" / "model.safetensors")
    assert weights and not any("_orig_mod" in key for key in weights)
    assert set(weights) == set(load_file(tmp_path / "plain" / "checkpoints" / "step-3" / "model.safetensors"))
    exported = AutoModelForPreTraining.from_pretrained(tmp_path / "compiled" / "hf")
    assert set(exported.state_dict()) == set(result.model.state_dict())
    config = json.loads((tmp_path / "compiled" / "checkpoints" / "step-3" / "config.json").read_text())
    assert config["train"]["compile"] is True


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_runs_under_bf16_autocast_close_to_fp32(name, make_task):
    torch.manual_seed(0)
    inputs = pair_batch(seed=2)
    inputs = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
    real = inputs["attention_mask"].bool()
    for network in networks_of(name, make_task).values():
        network.eval()
        with torch.no_grad():
            fp32 = network(**inputs)[0][real]
            with autocast("bf16", CPU):
                bf16 = network(**inputs)[0][real]
        assert bf16.dtype == torch.bfloat16 and torch.isfinite(bf16).all()
        scale = fp32.abs().max()
        assert (bf16.float() - fp32).abs().max() <= 0.05 * scale, (name, float((bf16.float() - fp32).abs().max()), float(scale))
