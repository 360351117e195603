"""The progress line of clean, build and tokenizer: counts, the bar on a terminal, log lines off one."""

import io
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines import progress
from pipelines.build.job import main as build
from pipelines.clean.job import main as clean
from pipelines.tokenizer.job import main as tokenizer
from tests.pipelines.clean.test_clean import make_corpus
from tests.pipelines.conftest import synthetic_texts, write_documents

ROOT = Path(__file__).resolve().parents[2]
PLAN = progress.Plan(job="clean", unit="bytes", total=400_000_000, num_files=10,
                     shown=(("filtered", "filtered out"), ("parts", "parts {}/8 written")), after="dedup and write")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def wait_for(condition) -> None:
    """Until the watcher thread has done something (it runs every few milliseconds here)."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def last_bar(text: str) -> str:
    """The bar as it stands at the end: the last redraw, without its control codes."""
    assert text.endswith("\x1b[K\n")  # the last bar stays on screen, its line ended
    return text[:-len("\x1b[K\n")].rsplit("\r", 1)[-1]


def without_time(line: str) -> str:
    return re.sub(r"\d+:\d\d:\d\d$", "T", line)


def test_the_line_shows_done_of_total_files_outcomes_rate_and_eta():
    values = {"bytes": 100_000_000, "files": 3, "filtered": 2000}
    assert progress.describe(PLAN, values, 10.0, bar=True) == (
        "clean [######..................] 100.0/400.0 MB | files 3/10 | filtered out 2,000 | 10.0 MB/s | ETA 0:00:30")
    assert progress.describe(PLAN, values, 10.0, bar=False).startswith("clean 100.0/400.0 MB | ")


def test_once_the_input_is_read_the_line_names_what_follows_and_the_time():
    values = {"bytes": 400_000_000, "files": 10, "parts": 3}
    assert progress.describe(PLAN, values, 65.0, bar=True) == (
        "clean [########################] 400.0/400.0 MB | files 10/10 | parts 3/8 written | dedup and write | 0:01:05")


def test_counts_without_a_total_show_a_rate_and_no_bar():
    plan = progress.Plan(job="build", unit="files", total=None, shown=(("pairs", "pairs"),))
    assert progress.describe(plan, {"files": 2, "pairs": 12_345}, 4.0, bar=True) == \
        "build 2 files | pairs 12,345 | 0.50 files/s"


def test_counted_is_exact_at_the_end_and_on_an_early_stop(tmp_path):
    with progress.Watch(PLAN, stream=io.StringIO()) as watch:
        assert list(progress.counted(range(1000), "documents")) == list(range(1000))
        partial = progress.counted(range(1000), "documents")
        assert [next(partial) for _ in range(300)] == list(range(300))
        partial.close()  # stopped early: the items taken count, the file does not
        assert watch.values() == {"documents": 1300, "files": 1}


def test_reading_counts_records_and_every_byte_of_the_file(tmp_path):
    path = tmp_path / "in.bin"
    path.write_bytes(bytes(3_000_000))
    with progress.Watch(PLAN, stream=io.StringIO()) as watch, path.open("rb") as raw:
        chunks = list(progress.reading(iter(lambda: raw.read(1000), b""), raw))
        assert watch.values() == {"records": len(chunks), "bytes": 3_000_000, "files": 1} and len(chunks) == 3000


def test_nothing_is_counted_outside_a_watch_and_the_environment_is_restored():
    assert list(progress.counted(range(5), "documents")) == list(range(5))
    with progress.Watch(PLAN, stream=io.StringIO()) as watch:
        folder = os.environ[progress.ENV]
        assert Path(folder).is_dir()
    assert progress.ENV not in os.environ and not Path(folder).exists()
    assert watch.values() == {}  # the counts of the first loop went nowhere


def test_a_worker_process_reports_through_the_folder_it_inherits():
    """As a multi-processing DirectRunner's workers do: their counts reach the main process."""
    code = "from pipelines import progress\nfor _ in range(7): progress.count('records', 3)\n"
    with progress.Watch(PLAN, stream=io.StringIO()) as watch:
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert watch.values() == {"records": 21}


def test_off_a_terminal_plain_log_lines_and_a_last_one(monkeypatch, caplog):
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.01)
    caplog.set_level(logging.INFO, logger="pipelines.progress")
    stream = io.StringIO()
    with progress.Watch(PLAN, stream=stream):
        progress.count("bytes", 400_000_000)
        progress.count("files", 10)
        wait_for(lambda: len(caplog.records) >= 2)  # the watcher thread logs every LOG_EVERY_S
    assert stream.getvalue() == ""  # no bar, no control codes
    lines = [r.getMessage() for r in caplog.records]
    assert all("[" not in line and "\r" not in line for line in lines)
    assert without_time(lines[-1]) == "clean 400.0/400.0 MB | files 10/10 | dedup and write | T"


def test_a_failed_run_ends_the_bar_line_and_draws_no_last_bar(monkeypatch):
    monkeypatch.setattr(progress, "REDRAW_S", 0.01)
    stream = Terminal()
    with pytest.raises(ValueError), progress.Watch(PLAN, stream=stream):
        wait_for(lambda: "\r" in stream.getvalue())
        raise ValueError("the job failed")
    assert stream.getvalue().endswith("\x1b[K\n") and "dedup and write" not in stream.getvalue()


# --- one run of each job -------------------------------------------------------------------------

def test_clean_on_a_terminal_ends_with_the_input_totals(tmp_path, monkeypatch):
    corpus = make_corpus(tmp_path / "raw")
    size = sum(p.stat().st_size for p in corpus.iterdir())
    monkeypatch.setattr(sys, "stderr", Terminal())
    manifest = clean(["--input", str(corpus), "--output", str(tmp_path / "docs"), "--num-parts", "4"])
    bar = without_time(last_bar(sys.stderr.getvalue()))
    stats = manifest["stats"]
    filtered = sum(v for k, v in stats.items() if k.startswith("dropped/") and k != "dropped/exact_duplicate")
    rejected = sum(v for k, v in stats.items() if k.startswith("rejected/"))
    assert bar == (f"clean [{'#' * 24}] {size / 1e3:.1f}/{size / 1e3:.1f} kB | files 5/5 | passed filters "
                   f"{stats['kept'] + stats['dropped/exact_duplicate']} | filtered out {filtered} | rejected {rejected} | "
                   f"parts 4/4 written | dedup and write | T")
    assert (filtered, rejected) == (9, 5)


@pytest.mark.slow
def test_clean_on_worker_processes_ends_with_the_same_totals(tmp_path, caplog):
    corpus = make_corpus(tmp_path / "raw")
    size = sum(p.stat().st_size for p in corpus.iterdir())
    caplog.set_level(logging.INFO, logger="pipelines.progress")
    clean(["--input", str(corpus), "--output", str(tmp_path / "docs"), "--num-parts", "4",
           "--direct_num_workers", "2", "--direct_running_mode", "multi_processing"])
    last = [r.getMessage() for r in caplog.records if r.name == "pipelines.progress"][-1]
    assert without_time(last) == (f"clean {size / 1e3:.1f}/{size / 1e3:.1f} kB | files 5/5 | passed filters 6 | "
                                  f"filtered out 9 | rejected 5 | parts 4/4 written | dedup and write | T")


def test_no_progress_shows_nothing(tmp_path, monkeypatch):
    corpus = make_corpus(tmp_path / "raw")
    monkeypatch.setattr(sys, "stderr", Terminal())
    clean(["--input", str(corpus / "docs.jsonl"), "--output", str(tmp_path / "docs"), "--no-progress"])
    assert "clean [" not in sys.stderr.getvalue()


@pytest.fixture(scope="module")
def documents(tmp_path_factory):
    return write_documents(str(tmp_path_factory.mktemp("docs")), synthetic_texts(40), files=3)


def test_tokenizer_on_a_terminal_counts_every_document(documents, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    tokenizer(["--input", documents, "--kind", "wordpiece", "--vocab-size", "200", "--output", str(tmp_path / "tok"),
               "--lang-alpha", "0.5"])  # two passes: languages first
    assert without_time(last_bar(sys.stderr.getvalue())) == \
        f"tokenizer [{'#' * 24}] 80/80 documents | files 6/6 | learning the vocabulary | T"


def test_build_off_a_terminal_logs_plain_lines(documents, tmp_path, monkeypatch, caplog):
    tok = tokenizer(["--input", documents, "--kind", "wordpiece", "--vocab-size", "200",
                     "--output", str(tmp_path / "tok"), "--no-progress"])
    caplog.set_level(logging.INFO, logger="pipelines.progress")
    manifest = build(["--input", documents, "--tokenizer", tok, "--objective", "mlm", "--seq-len", "32",
                      "--output", str(tmp_path / "shards"), "--num-shards", "2"])
    lines = [r.getMessage() for r in caplog.records if r.name == "pipelines.progress"]
    counts = manifest["counts"]
    assert without_time(lines[-1]) == (f"build 40/40 documents | files 3/3 | examples {counts['examples']} | "
                                       f"shards written {counts['shards']} | build and write shards | T")
