"""What a job run on this machine has done and what remains: a bar on a terminal, log lines off one.

`shardlm clean`, `build` and `tokenizer` show, while they run on the DirectRunner (or, for the
tokenizer, in the command's own process), how much of the input is read out of the total known
from the input listing before the run (bytes, documents or files), the outcomes counted so far,
the rate and an ETA:

    clean [#######.................] 120.5/400.0 MB | files 3/10 | passed filters 8,000 | filtered out 2,000 | rejected 12 | 12.3 MB/s | ETA 0:00:23

Once the input is read the line names what the job does next and counts its elapsed time. Off a
terminal the same line, without the bar, is logged every `LOG_EVERY_S` seconds and once at the end.

Two halves: the readers call `count` / `counted` / `reading` (no-ops unless a `Watch` is open),
and `Watch` in the job's main process draws. Counts live in the process that reads: the
in-process DirectRunner (`--direct_num_workers 1`, the default, or `multi_threading`) counts in
this module's memory; with `--direct_running_mode multi_processing` each worker process finds the
folder `Watch` names in the `SHARDLM_PROGRESS_DIR` environment variable it inherits and writes its
counts there (at most every `FLUSH_S` seconds, after each input file, and when it exits), which
the main process sums. Beam's metrics cannot serve: the DirectRunner's `run()` returns only when
the pipeline is done, and its metrics with it (docs/commands.md). On other runners (Dataflow,
Flink, Spark) the jobs open no `Watch`: the runner's own monitoring shows progress.
"""

from __future__ import annotations

import argparse
import atexit
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, TextIO

from schemas.progress_format import bar as draw_bar
from schemas.progress_format import byte_unit, format_eta

log = logging.getLogger(__name__)

ENV = "SHARDLM_PROGRESS_DIR"
REDRAW_S = 0.2  # on a terminal
LOG_EVERY_S = 30.0  # off a terminal: a modest interval for a log file
FLUSH_S = 0.5  # a worker process writes its counts at most this often
CHUNK = 256  # `counted` and `reading` add to the shared counts once per this many items


# --- counting, in the process that reads ---------------------------------------------------------

class _Counts:
    """This process's counts; with a folder (a worker process), written to `<folder>/<pid>.json`."""

    def __init__(self, folder: str | None = None):
        self.values: Counter = Counter()
        self.lock, self.flush_lock = threading.Lock(), threading.Lock()
        self.folder, self.flushed_at = folder, 0.0

    def add(self, name: str, n: int) -> None:
        with self.lock:
            self.values[name] += n
        if self.folder is not None and time.monotonic() - self.flushed_at >= FLUSH_S:
            self.flush()

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return dict(self.values)

    def flush(self) -> None:
        with self.flush_lock:  # the SDK harness of a worker process runs bundles in several threads
            folder = self.folder
            if folder is None:
                return
            self.flushed_at = time.monotonic()
            path = Path(folder, f"{os.getpid()}.json")
            try:
                path.with_suffix(".tmp").write_text(json.dumps(self.snapshot()))
                os.replace(path.with_suffix(".tmp"), path)
            except OSError:
                if not Path(folder).is_dir():  # the job ended and removed it: nobody is watching
                    self.folder = None


_local: _Counts | None = None  # set by an open Watch in this process
_workers: dict[str, _Counts] = {}  # a worker process's, by the folder ENV names


def _counts() -> _Counts | None:
    if _local is not None:
        return _local
    folder = os.environ.get(ENV)
    if not folder:
        return None
    if folder not in _workers:
        _workers[folder] = _Counts(folder)
        atexit.register(_workers[folder].flush)
    return _workers[folder]


def count(name: str, n: int = 1) -> None:
    """Add `n` to the counter `name` of the watched job (nothing when no job is watched)."""
    counts = _counts()
    if counts is not None:
        counts.add(name, n)


def counted(items: Iterable, name: str) -> Iterator:
    """`items` (one input file's records), counting each under `name` and the file under `files`
    once it is read to its end; an early stop counts the items taken."""
    return _counting(items, name, None)


def reading(items: Iterable, raw, *, file_done: bool = True) -> Iterator:
    """`items` read from the open binary file `raw`: counts them as `records`, the bytes of `raw`
    read so far as `bytes` (its position, compressed bytes for a compressed file), and at the end
    the rest of its size and, unless `file_done` is False (a piece of a file that is not its
    last), one of `files`."""
    return _counting(items, "records", raw, file_done)


def _counting(items: Iterable, name: str, raw, file_done: bool = True) -> Iterator:
    """`counted` and, with the binary file `raw` the items come from, `reading`: the counts are
    added once per CHUNK items and at the end (an early stop too); the file counts once read to its end."""
    counts = _counts()
    if counts is None:
        yield from items
        return
    done = taken = 0
    try:
        for item in items:
            taken += 1
            if taken == CHUNK:
                counts.add(name, taken)
                taken = 0
                if raw is not None:
                    done = _add_bytes(counts, raw.tell(), done)
            yield item
    finally:
        counts.add(name, taken)
    if raw is not None:
        try:
            _add_bytes(counts, raw.seek(0, os.SEEK_END), done)
        except (OSError, ValueError):  # not seekable: the bytes seen so far
            pass
    if file_done:
        _file_read(counts)


def _file_read(counts: _Counts) -> None:
    counts.add("files", 1)
    if counts.folder is not None:
        counts.flush()


def _add_bytes(counts: _Counts, position: int, done: int) -> int:
    """Count the bytes from `done` to `position` (a reader that seeks back counts nothing twice)."""
    if position > done:
        counts.add("bytes", position - done)
    return max(position, done)


# --- watching, in the job's main process ---------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Plan:
    """What a job's progress measures: `unit` (a counter name; `bytes` are shown in kB, MB or GB) out of
    `total`, read in `num_files` files; `shown` the other counters, as (name, label), in order (a
    label holding `{}` places the value there); `after` what the job does once the input is read."""

    job: str
    unit: str
    total: int | None
    num_files: int | None = None
    shown: tuple[tuple[str, str], ...] = ()
    after: str = ""


def add_progress_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="show what is read and what remains: a bar when stderr is a terminal, else a log "
                             f"line every {LOG_EVERY_S:.0f} s; Beam jobs on the DirectRunner only (default on)")


def describe(plan: Plan, values: dict[str, int], elapsed: float, *, bar: bool) -> str:
    """The progress line: the bar (optional), the unit done out of its total, files, the shown
    counters, and the rate and ETA, or once the input is read, what follows and the time so far."""
    done, total = values.get(plan.unit, 0), plan.total
    if total is not None:
        done = min(done, total)
    rate = done / elapsed if elapsed > 0 else 0.0
    if plan.unit == "bytes":
        scale, unit = byte_unit(total if total is not None else done)
        amount = f"{done / scale:,.1f}" + (f"/{total / scale:,.1f}" if total is not None else "") + f" {unit}"
        speed = f"{rate / byte_unit(rate)[0]:,.1f} {byte_unit(rate)[1]}/s"
    else:
        amount = f"{done:,}" + (f"/{total:,}" if total is not None else "") + f" {plan.unit}"
        speed = f"{rate:,.0f} {plan.unit}/s" if rate >= 10 else f"{rate:.2f} {plan.unit}/s"
    parts = [amount]
    if plan.unit != "files" and plan.num_files is not None:
        parts.append(f"files {values.get('files', 0)}/{plan.num_files}")
    parts += [label.format(f"{values[name]:,}") if "{}" in label else f"{label} {values[name]:,}"
              for name, label in plan.shown if name != plan.unit and values.get(name)]
    if total is not None and done >= total:
        parts += [plan.after, format_eta(elapsed)]
    else:
        parts.append(speed)
        if total is not None:
            parts.append(f"ETA {format_eta((total - done) / rate) if rate > 0 else '?'}")
    head = f"{plan.job} {draw_bar(done, total)}" if bar and total is not None else plan.job
    return f"{head} {' | '.join(p for p in parts if p)}"


class Watch:
    """A context manager around a job's run: counts what the readers report and shows it.

    On a terminal (`stream.isatty()`) a bar redrawn in place every REDRAW_S; otherwise a log line
    every LOG_EVERY_S; either way a last line at the end of a run that succeeded. Without a plan
    (`--no-progress`, or a runner other than the DirectRunner) it shows and counts nothing."""

    def __init__(self, plan: Plan | None, *, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.plan, self.enabled, self.clock = plan, plan is not None, clock
        self.stream = sys.stderr if stream is None else stream
        self.live = self.enabled and self.stream.isatty()
        self.counts = _Counts()
        self.folder: str | None = None
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.started = 0.0
        self.drawn = False
        self.draw_lock = threading.Lock()

    def values(self) -> dict[str, int]:
        """Counts of this process and of every worker process so far."""
        total = Counter(self.counts.snapshot())
        for path in Path(self.folder).glob("*.json") if self.folder else ():
            try:
                total.update(json.loads(path.read_text()))
            except (OSError, ValueError):  # replaced while read: the next look sees it
                continue
        return dict(total)

    def line(self, *, bar: bool) -> str:
        return describe(self.plan, self.values(), self.clock() - self.started, bar=bar)

    def __enter__(self) -> Watch:
        global _local
        if not self.enabled:
            return self
        if _local is not None:
            raise RuntimeError("one job at a time is watched in a process")
        self.started = self.clock()
        _local = self.counts
        self.folder = tempfile.mkdtemp(prefix="shardlm-progress-")
        os.environ[ENV] = self.folder  # worker processes the runner starts inherit it
        if self.live:
            for handler in logging.getLogger().handlers:
                if getattr(handler, "stream", None) is self.stream:
                    handler.addFilter(self._clear_before_log)
        self.thread = threading.Thread(target=self._run, name="shardlm-progress", daemon=True)
        self.thread.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        global _local
        if not self.enabled:
            return
        self.stop.set()
        self.thread.join()
        _local = None
        try:
            if exc_type is None:
                self._show(final=True)
            elif self.drawn:
                self._end_line()
        finally:
            for handler in logging.getLogger().handlers:
                handler.removeFilter(self._clear_before_log)
            if os.environ.get(ENV) == self.folder:
                del os.environ[ENV]
            shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self) -> None:
        every = REDRAW_S if self.live else LOG_EVERY_S
        while not self.stop.wait(every):
            self._show(final=False)

    def _show(self, *, final: bool) -> None:
        if not self.live:
            log.info("%s", self.line(bar=False))
            return
        with self.draw_lock:
            self.stream.write("\r" + self.line(bar=True) + "\x1b[K")
            self.drawn = True
            if final:
                self.stream.write("\n")
                self.drawn = False
            self.stream.flush()

    def _end_line(self) -> None:
        with self.draw_lock:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False

    def _clear_before_log(self, record: logging.LogRecord) -> bool:
        """A log line printed while the bar is drawn starts on a clean line; the bar comes back."""
        if self.drawn:
            with self.draw_lock:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self.drawn = False
        return True


__all__ = ["Plan", "Watch", "add_progress_flag", "count", "counted", "describe", "reading"]
