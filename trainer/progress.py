"""A progress bar for `shardlm train` on a terminal: step, loss, tokens/s and ETA on one line that
redraws in place at the bottom, under the log lines. Off a terminal (a file, a pipe, a scheduler's
log) it draws nothing and the plain log lines, which carry the same step, tokens/s and ETA
(`Progress.plain`), are the record."""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

from schemas.progress_format import bar, format_eta

REDRAW_S = 0.1  # at most ten redraws a second: a tiny model steps faster than a terminal should repaint


class Progress:
    """`step(step, loss, tokens)` after each optimizer step; `clear()` before a log line; `close()` at the end.

    tokens/s and ETA count from this process's first step (a resumed run starts its clock again)."""

    def __init__(self, total: int, *, start_step: int, start_tokens: int, enabled: bool = True,
                 stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic):
        self.stream = sys.stderr if stream is None else stream
        self.live = enabled and self.stream.isatty()
        self.total, self.start_step, self.start_tokens = total, start_step, start_tokens
        self.clock = clock
        self.started = clock()
        self.drawn_at: float | None = None

    def line(self, step: int, loss: float, tokens: int, now: float, *, with_bar: bool = True) -> str:
        elapsed = max(now - self.started, 1e-9)
        done = step - self.start_step
        eta = format_eta((self.total - step) * elapsed / done) if done > 0 else "?"
        drawn = f" {bar(step, self.total)}" if with_bar else ""
        return (f"step {step}/{self.total}{drawn} loss {loss:.4f} "
                f"{(tokens - self.start_tokens) / elapsed:,.0f} tok/s ETA {eta}")

    def plain(self, step: int, loss: float, tokens: int) -> str:
        """The bar's line without the bar, for a log line (on a terminal or off one)."""
        return self.line(step, loss, tokens, self.clock(), with_bar=False)

    def step(self, step: int, loss: float, tokens: int) -> None:
        if not self.live:
            return
        now = self.clock()
        if self.drawn_at is not None and now - self.drawn_at < REDRAW_S and step < self.total:
            return
        self.stream.write("\r" + self.line(step, loss, tokens, now) + "\x1b[K")
        self.stream.flush()
        self.drawn_at = now

    def clear(self) -> None:
        """Erase the bar so that a log line prints on a clean line; the next step redraws it."""
        if self.live and self.drawn_at is not None:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn_at = None

    def close(self) -> None:
        """Leave the last bar on screen and end its line."""
        if self.live and self.drawn_at is not None:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn_at = None


__all__ = ["Progress"]
