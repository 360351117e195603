"""`shardlm report RUN_DIR`: report.md and report.png from a metrics.jsonl written here."""

import json

import pytest

from shardlm.cli import main
from shardlm.report import read_metrics, summary_markdown, throughput

RECORDS = [
    {"step": 10, "epoch": 0, "loss": 9.0, "mlm_loss": 8.5, "lr": 1e-3, "examples": 320, "tokens": 4000,
     "elapsed_s": 2.0},
    {"step": 20, "epoch": 0, "loss": 7.0, "mlm_loss": 6.5, "lr": 5e-4, "examples": 640, "tokens": 10000,
     "padded": 0.1234, "elapsed_s": 4.0},
    {"step": 20, "eval_loss": 7.5, "eval_mlm_accuracy": 0.125, "eval_mlm_unigram_accuracy": 0.0625,
     "eval_nsp_accuracy": 0.75, "eval_nsp_majority_accuracy": 0.5},
]


def write_run(tmp_path, records=RECORDS):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (run / "hf").mkdir()
    (run / "hf" / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertForPreTraining"],
                                                         "hidden_size": 128, "num_hidden_layers": 2}))
    return run


def test_throughput_is_tokens_over_seconds_between_log_lines():
    assert throughput(RECORDS[:2]) == [(10, 2000.0), (20, 3000.0)]


def test_report_writes_the_summary_and_a_png(tmp_path, capsys):
    run = write_run(tmp_path)
    assert main(["report", str(run)]) == 0
    assert capsys.readouterr().out == f"wrote {run / 'report.md'} and {run / 'report.png'}\n"
    assert (run / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (run / "report.md").read_text()
    for line in ["- model_type: bert", "- architectures: BertForPreTraining", "- num_hidden_layers: 2",
                 "- steps: 20", "- tokens: 10000", "- elapsed: 4.0 s",
                 "- first logged train loss: 9.0000 (step 10)", "- final train loss: 7.0000 (step 20)",
                 "- final learning rate: 0.0005", "- throughput: 2,500 tokens/s over the run",
                 "- padded positions: 12.3% of the batches' positions over the run",
                 "| eval_loss | 7.5000 | |",
                 "| eval_mlm_accuracy | 0.1250 | 0.0625 (eval_mlm_unigram_accuracy) |",
                 "| eval_nsp_accuracy | 0.7500 | 0.5000 (eval_nsp_majority_accuracy) |"]:
        assert line in md.splitlines(), line


def test_summary_without_eval_says_so(tmp_path):
    run = write_run(tmp_path, RECORDS[:2])
    train, evals = read_metrics(run)
    assert evals == [] and [r["step"] for r in train] == [10, 20]
    assert "- no evaluation records" in summary_markdown(run, train, evals).splitlines()


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"), ("", "holds no metrics records"), ("\n\n", "holds no metrics records"),
    ("{not json\n", "line 1 is not JSON"),
])
def test_missing_or_empty_metrics_is_one_error_line(tmp_path, capsys, content, message):
    run = tmp_path / "run"
    run.mkdir()
    if content is not None:
        (run / "metrics.jsonl").write_text(content)
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("shardlm report: error: ") and message in err and err.count("\n") == 1
    assert not (run / "report.png").exists()


def test_clm_perplexity_is_in_the_train_summary_and_the_report(tmp_path):
    """An XLM CLM run's one held-out metric is its perplexity (issue 7 item 5: "in metrics.jsonl and
    the final summary"): `shardlm train`'s summary and report.md show it."""
    from shardlm.report import format_train_summary

    record = {"step": 20, "eval_loss": 4.0, "eval_clm_loss": 4.0, "eval_clm_perplexity": 54.6, "eval_examples": 16}
    printed = format_train_summary({"steps": 20, "first_loss": 5.0, "last_loss": 4.5, "eval": record,
                                    "padded": 0.0312, "hf_dir": "run/hf", "metrics": "run/metrics.jsonl"})
    assert "  clm_perplexity 54.6000" in printed.splitlines()
    assert "  padded       3.1% of the batches' positions" in printed.splitlines()
    run = write_run(tmp_path, RECORDS[:2] + [record])
    train, evals = read_metrics(run)
    assert "| eval_clm_perplexity | 54.6000 | |" in summary_markdown(run, train, evals).splitlines()


def test_electra_detection_metrics_are_in_the_summary_and_the_report(tmp_path):
    """ELECTRA's RTD accuracy can sit at always-original while the discriminator ranks replacements
    above originals: the AUC (beside chance), precision and recall are shown too."""
    from shardlm.report import format_train_summary

    record = {"step": 20, "eval_loss": 30.0, "eval_rtd_accuracy": 0.868, "eval_rtd_majority_accuracy": 0.868,
              "eval_rtd_auc": 0.594, "eval_rtd_precision": 0.25, "eval_rtd_recall": 0.03, "eval_examples": 16}
    printed = format_train_summary({"steps": 20, "first_loss": 40.0, "last_loss": 30.0, "eval": record,
                                    "hf_dir": "run/hf", "metrics": "run/metrics.jsonl"}).splitlines()
    assert "  rtd_accuracy 0.8680 (baseline rtd_majority_accuracy 0.8680)" in printed
    assert "  rtd_auc 0.5940 (chance 0.5000)" in printed
    assert "  rtd_precision 0.2500" in printed and "  rtd_recall 0.0300" in printed
    run = write_run(tmp_path, RECORDS[:2] + [record])
    md = summary_markdown(run, *read_metrics(run)).splitlines()
    assert "| eval_rtd_auc | 0.5940 | 0.5000 (chance) |" in md and "| eval_rtd_recall | 0.0300 | |" in md
