"""benchmarks/gpu.py without a GPU: its FLOPs count, peak lookup and anchor line, and --smoke end to end."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gpu():
    spec = importlib.util.spec_from_file_location("benchmark_gpu", REPO / "benchmarks" / "gpu.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_bert_base_weights_and_step_flops_match_the_formula_by_hand(gpu):
    from trainer.config import TrainConfig
    from trainer.models import get_model_spec
    from trainer.models.spec import BuildContext

    spec = get_model_spec("bert")
    config = TrainConfig(model="bert", size="base", data="d", output="o", max_steps=1)
    task = spec.build_task(BuildContext(size=spec.sizes["base"], vocab=gpu.VOCAB, seq_len=128, config=config))
    d, layers, vocab = 768, 12, 30522
    per_layer = 4 * (d * d + d) + 2 * (4 * d * d) + 4 * d + d + 2 * (2 * d)  # attention, MLP, two LayerNorms
    counts = gpu.parameter_counts(task)
    assert counts == {"encoder": layers * per_layer, "head": d * d + d + 2 * d + d * vocab, "pair": d * d + d + 2 * d + 2}
    assert counts["encoder"] == 85_054_464
    flops = gpu.model_flops(counts, num_layers=layers, hidden=d, seq_len=128, sequences=256, predicted=4915)
    tokens = 256 * 128
    expected = 6 * (85_054_464 * tokens + counts["head"] * 4915 + counts["pair"] * 256) + 12 * layers * d * 128 * tokens
    assert flops == expected and 17e12 < flops < 18e12


@pytest.mark.parametrize("name, peak", [("NVIDIA H100 80GB HBM3", 989.0), ("NVIDIA H100 PCIe", 756.0),
                                        ("NVIDIA H200", 989.0), ("NVIDIA A100-SXM4-80GB", 312.0),
                                        ("NVIDIA L4", 121.0), ("NVIDIA GeForce GTX 1080", None)])
def test_peak_is_looked_up_from_the_device_name_unless_given(gpu, monkeypatch, name, peak):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: name)
    assert gpu.peak_tflops(torch.device("cuda"), None) == peak
    assert gpu.peak_tflops(torch.device("cuda"), 500.0) == 500.0
    assert gpu.peak_tflops(torch.device("cpu"), None) is None


def test_bert_large_at_seq_128_is_compared_with_the_anchor_and_the_goal(gpu):
    records = [{"model": "bert-base", "seq_len": 128, "sequences_per_s": 5000.0},
               {"model": "bert-large", "seq_len": 512, "sequences_per_s": 300.0},
               {"model": "bert-large", "seq_len": 128, "sequences_per_s": 1148.0}]
    line = gpu.anchor_line(records, "NVIDIA H100")
    assert line == ("BERT-large seq 128 on NVIDIA H100: 1,148 sequences/s = 2.00x NVIDIA's 574/s per A100, "
                    "1.00x the goal of 1,148/s per H100-class GPU")
    assert gpu.anchor_line(records[:2], "x") is None


def test_without_a_gpu_only_smoke_runs(gpu):
    with pytest.raises(SystemExit, match="no CUDA device; run it on a GPU machine, or pass --smoke"):
        gpu.main(["--device", "cpu"])


@pytest.mark.slow
def test_smoke_runs_every_case_end_to_end_on_cpu(gpu, tmp_path):
    out = tmp_path / "gpu.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu.py"), "--smoke", "--precision", "bf16",
                           "--peak-tflops", "1", "--json", str(out)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    records = result["records"]
    assert result["device"] == "CPU" and result["peak_tflops"] == 1.0
    assert [(r["model"], r["seq_len"], r["batch_size"]) for r in records] == [
        ("bert-small", 32, 4), ("bert-small", 64, 4), ("bert-tiny", 32, 4), ("bert-tiny", 64, 4)]
    for r in records:
        assert r["precision"] == "bf16" and r["steps"] == 2 and math.isfinite(r["last_loss"])
        # "seconds" is written rounded to the millisecond, the rate from the unrounded time
        assert r["sequences_per_s"] * r["seconds"] == pytest.approx(2 * 4, abs=0.0005 * r["sequences_per_s"])
        assert r["achieved_tflops"] == pytest.approx(r["model_tflops_per_step"] * r["sequences_per_s"] / 4, rel=1e-9)
        assert r["mfu"] == pytest.approx(r["achieved_tflops"]) and 0 < r["predicted_per_batch"] < 4 * r["seq_len"]
    assert done.stdout.count("| bert-") == 4 and "BERT-large seq 128" not in done.stdout
    assert "attention network:sdpa" in done.stderr


def test_a_configuration_out_of_memory_is_reported_and_the_others_still_run(gpu, monkeypatch, capsys):
    def fake_case(case, args, rt, vocab):
        if case.seq_len == 64 and case.size == "small":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return {"model": case.label, "seq_len": case.seq_len, "batch_size": case.batch_size, "precision": "fp32",
                "compile": False, "achieved_tflops": 0.5, "sequences_per_s": 10.0, "peak_memory_gb": None}

    monkeypatch.setattr(gpu, "run_case", fake_case)
    records = gpu.main(["--smoke", "--device", "cpu", "--peak-tflops", "2"])
    assert [r.get("error") for r in records] == [None, "out of memory: pass a smaller --batch-size", None, None]
    assert [r.get("mfu") for r in records] == [0.25, None, 0.25, 0.25]
    out = capsys.readouterr().out
    assert "| bert-small | 64 | 4 | | | out of memory: pass a smaller --batch-size |" in out and "| 25.0% |" in out
