"""Checkpoint layout and commit marker; exact resume (losses equal the uninterrupted run's)."""

from __future__ import annotations

import shutil

import pytest
import torch

from trainer import checkpoint as ckpt
from trainer.cli import main
from trainer.config import VocabInfo
from trainer.models.bert import RECIPE
from trainer.schedule import build_optimizer, build_scheduler
from tests.trainer.conftest import run_records


def _fake_checkpoint(output, step, complete=True):
    folder = ckpt.checkpoints_root(output) / f"step-{step}"
    folder.mkdir(parents=True)
    if complete:
        (folder / ckpt.COMPLETE).write_text("")
    return folder


def test_latest_skips_incomplete_and_temp_folders(tmp_path):
    assert ckpt.latest_checkpoint(tmp_path) is None
    _fake_checkpoint(tmp_path, 2)
    _fake_checkpoint(tmp_path, 10)
    _fake_checkpoint(tmp_path, 12, complete=False)
    (ckpt.checkpoints_root(tmp_path) / ".tmp-step-14").mkdir()
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path)] == [2, 10]
    assert ckpt.latest_checkpoint(tmp_path).name == "step-10"
    with pytest.raises(FileNotFoundError, match="no 'complete' marker"):
        ckpt.load_checkpoint(ckpt.checkpoints_root(tmp_path) / "step-12", rank=0)


def test_roundtrip_restores_weights_optimizer_scheduler(tmp_path, make_task):
    vocab = VocabInfo(vocab_size=50, special_ids={"pad": 0, "mask": 1})
    model = make_task("bert", vocab, seq_len=16, seed=0)
    opt = build_optimizer(model.trainable_parameters(), recipe=RECIPE, lr=1e-3, weight_decay=0.01)
    sched = build_scheduler(opt, warmup_steps=1, max_steps=10)
    ids = torch.randint(2, 50, (2, 16))
    model.network(input_ids=ids).prediction_logits.sum().backward()
    opt.step()
    sched.step()
    tmp = ckpt.begin(tmp_path, 1)
    ckpt.write_rank_state(tmp, 0, {"rng": {"torch": torch.get_rng_state()}, "stream": {"epoch": 3}})
    ckpt.write_shared_state(tmp, weights=model.checkpoint_state(), optimizer_state=opt.state_dict(), scheduler_state=sched.state_dict(),
                            trainer_state={"step": 1}, config={"train": {"model": "bert"}})
    folder = ckpt.commit(tmp_path, 1)
    assert sorted(p.name for p in folder.iterdir()) == ["complete", "config.json", "model.safetensors",
                                                        "optimizer.pt", "rank-0.pt", "trainer.pt"]
    state = ckpt.load_checkpoint(folder, rank=0)
    other = make_task("bert", vocab, seq_len=16, seed=1)
    other.load_checkpoint_state(state["model"])
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values()))
    opt2 = build_optimizer(other.trainable_parameters(), recipe=RECIPE, lr=1e-3, weight_decay=0.01)
    opt2.load_state_dict(state["optimizer"])
    sched2 = build_scheduler(opt2, warmup_steps=1, max_steps=10)
    sched2.load_state_dict(state["scheduler"])
    assert sched2.get_last_lr() == sched.get_last_lr() and sched2.last_epoch == 1
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert state["trainer"] == {"step": 1} and state["rank"]["stream"] == {"epoch": 3}
    with pytest.raises(FileNotFoundError, match="rank-1.pt is missing"):
        ckpt.load_checkpoint(folder, rank=1)


def _train(shards, output, *extra):
    # 96 train examples, batch 16: an epoch is 6 batches, so 9 steps cross into epoch 1
    return main(["--model", "bert", "--data", str(shards), "--output", str(output), "--max-steps", "9",
                 "--batch-size", "16", "--log-every", "1", "--checkpoint-every", "4", "--eval-every", "4",
                 "--eval-batches", "2", "--shuffle-buffer", "32", "--device", "cpu", *extra])


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["0", "2"])
def test_resume_reproduces_the_uninterrupted_run(nsp_shards, tmp_path, workers):
    straight = tmp_path / "straight"
    _train(nsp_shards, straight, "--num-workers", workers)
    expected = run_records(straight)
    assert [r["step"] for r in expected if "loss" in r] == list(range(1, 10))
    assert {r["epoch"] for r in expected if "loss" in r} == {0, 1}
    # simulate a crash after step 4: later checkpoints never happened, metrics ran on to step 9
    interrupted = tmp_path / "interrupted"
    shutil.copytree(straight, interrupted)
    for step in (8, 9):
        shutil.rmtree(interrupted / "checkpoints" / f"step-{step}")
    (interrupted / "checkpoints" / "step-9-partial").mkdir()
    summary = _train(nsp_shards, interrupted, "--num-workers", workers, "--resume")
    resumed = run_records(interrupted)
    assert resumed == expected  # every loss, lr, count and eval value, exactly
    steps = [r for r in expected if "loss" in r]
    assert summary["steps"] == 9 and summary["last_loss"] == steps[-1]["loss"]
    assert summary["first_loss"] == steps[4]["loss"]  # the first step this process ran: step 5
    assert [r["step"] for r in expected if "eval_loss" in r] == [4, 8, 9]


def test_fresh_run_refuses_a_folder_with_checkpoints_and_resume_checks_model(nsp_shards, mlm_shards, tmp_path):
    out = tmp_path / "run"
    main(["--model", "bert", "--data", str(nsp_shards), "--output", str(out), "--max-steps", "1",
          "--batch-size", "4", "--eval-batches", "1"])
    with pytest.raises(ValueError, match="already holds checkpoints \\(step-1\\); pass --resume"):
        main(["--model", "bert", "--data", str(nsp_shards), "--output", str(out), "--max-steps", "2"])
    with pytest.raises(ValueError, match="trained with --model bert but this run asks for roberta"):
        main(["--model", "roberta", "--data", str(mlm_shards), "--output", str(out), "--max-steps", "2",
              "--resume"])


def test_resume_refuses_a_different_batch_size_or_seed(nsp_shards, tmp_path):
    out = tmp_path / "run"
    base = ["--model", "bert", "--data", str(nsp_shards), "--output", str(out), "--max-steps", "2",
            "--batch-size", "4", "--eval-batches", "1", "--checkpoint-every", "1"]
    main(base[:7] + ["1"] + base[8:])
    with pytest.raises(ValueError, match="trained with --batch-size 4 but this run asks for 8"):
        main(base[:9] + ["8"] + base[10:] + ["--resume"])
    with pytest.raises(ValueError, match="trained with --seed 0 but this run asks for 3"):
        main(base + ["--seed", "3", "--resume"])


def test_counters_of_a_checkpoint_from_before_the_padding_count_resume_without_negative_padding():
    from trainer.loop import Counters
    from trainer.run import account, log_line

    old = {"step": 10, "examples": 80, "tokens": 5000, "elapsed_s": 1.5, "window": {}}  # no "positions"
    counters = Counters.from_state(old)
    assert counters.positions == 5000
    account(counters, {"examples": 8, "tokens": 600, "positions": 800, "losses": {"loss": 2.0}})
    assert log_line(counters, {"epoch": 0, "lr": 1e-4})["padded"] == round(1 - 5600 / 5800, 4)
    assert Counters.from_state(counters.to_state()) == counters  # a new checkpoint keeps the count
