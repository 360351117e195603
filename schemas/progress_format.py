"""How a progress line writes its parts, shared by the jobs' line (`pipelines.progress`) and the
trainer's bar (`trainer.progress`): the elapsed or remaining time, the bar itself, and a byte
count's decimal unit. Here in `schemas`, the base package both already import; it imports nothing
of the project.
"""

from __future__ import annotations

WIDTH = 24  # characters inside the bar's brackets

BYTE_UNITS = ((1e9, "GB"), (1e6, "MB"), (1e3, "kB"), (1.0, "B"))


def format_eta(seconds: float) -> str:
    """`seconds` as H:MM:SS, rounded to the second (hours are not wrapped into days)."""
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def bar(done: int, total: int) -> str:
    """`[####....]`, WIDTH characters filled in proportion to `done` out of `total` (rounded down,
    clamped to the bar); a total of 0 or less is complete."""
    filled = WIDTH if total <= 0 else min(max(WIDTH * done // total, 0), WIDTH)
    return f"[{'#' * filled}{'.' * (WIDTH - filled)}]"


def byte_unit(n: float) -> tuple[float, str]:
    """The decimal unit that shows `n` bytes with a few digits before the point: (scale, name)."""
    return next((scale, name) for scale, name in BYTE_UNITS if n >= scale or scale == 1.0)


__all__ = ["BYTE_UNITS", "WIDTH", "bar", "byte_unit", "format_eta"]
