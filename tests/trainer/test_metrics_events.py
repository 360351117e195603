"""TensorBoard event files beside metrics.jsonl (trainer.run.MetricsLog)."""

import json

import pytest

from trainer.run import MetricsLog

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def scalars(folder, tag):
    events = event_accumulator.EventAccumulator(str(folder))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def test_every_number_of_a_record_is_a_scalar_beside_metrics_jsonl(tmp_path):
    metrics = MetricsLog(tmp_path / "metrics.jsonl", enabled=True, keep_until=None)
    metrics.write({"step": 10, "epoch": 0, "loss": 4.5, "lr": 0.001})
    metrics.write({"step": 20, "epoch": 0, "loss": 3.5, "lr": 0.0005})
    metrics.write({"step": 20, "eval_loss": 3.75, "eval_mlm_accuracy": 0.25})
    metrics.close()
    assert [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [10, 20, 20]
    assert list(tmp_path.glob("events.out.tfevents.*"))
    assert scalars(tmp_path, "loss") == [(10, 4.5), (20, 3.5)]
    assert scalars(tmp_path, "eval_mlm_accuracy") == [(20, 0.25)]
    assert "step" not in event_accumulator.EventAccumulator(str(tmp_path)).Reload().Tags()["scalars"]


def test_other_ranks_write_no_events(tmp_path):
    metrics = MetricsLog(tmp_path / "metrics.jsonl", enabled=False, keep_until=None)
    metrics.write({"step": 1, "loss": 1.0})
    metrics.close()
    assert list(tmp_path.iterdir()) == []
