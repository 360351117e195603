"""Compiled kernels of `trainer.masking.Masker`'s `token` path (numba, the `train` extra).

They do the per-position work of one batch in a single pass each, where numpy needs about 20
calls (each ~1-3 us plus a temporary array); every random draw stays a numpy `Generator` call
made in `Masker`, in bulk and in the same order as the numpy path, so the masks are identical
(tests/trainer/test_masking.py compares both paths). The machine code is cached in this
folder's `__pycache__` (where that is read-only, in numba's user cache folder, ~/.cache/numba,
or NUMBA_CACHE_DIR), so it is compiled once per install rather than once per process; see
`compiled` for an install where neither is writable. Imported lazily by `trainer.masking.kernels()`:
a process that never masks by tokens does not import numba.
"""

from __future__ import annotations

import warnings

import numpy as np
from numba import njit

IGNORE_INDEX = -100  # trainer.masking.IGNORE_INDEX (not imported: no torch in the compiled module)


def compiled(function):
    """`function` compiled by numba, its machine code cached on disk; where no cache folder is
    writable (a read-only install and a read-only home, without NUMBA_CACHE_DIR) numba refuses
    to cache, and each process compiles it again (about 2 CPU seconds for this module): said
    once per process as a warning, the kernels and masks are the same."""
    try:
        return njit(cache=True, nogil=True)(function)
    except RuntimeError as error:  # numba: "cannot cache function ...: no locator available for file ..."
        if "no locator available" not in str(error):
            raise
        if not _UNCACHED:
            warnings.warn(f"{error}; the masking kernels compile in each process (set NUMBA_CACHE_DIR to a "
                          f"writable folder to keep them)", RuntimeWarning, stacklevel=2)
            _UNCACHED.append(True)
        return njit(nogil=True)(function)


_UNCACHED: list = []


@compiled
def candidates(raw: np.ndarray, threshold: int, ties: bool) -> tuple[np.ndarray, int]:
    """(positions whose random byte is below `threshold`, or equal to it when `ties`; how many
    of them equal it): the ~p share that `select_tokens` looks at, and the number of tie draws
    it needs. Collected without a branch per position, which a random byte would mispredict."""
    limit = threshold if ties else threshold - 1
    found = np.empty(raw.size + 1, dtype=np.int64)
    n = 0
    for i in range(raw.size):
        found[n] = i
        n += raw[i] <= limit
    tied = 0
    if ties:
        for c in range(n):
            tied += raw[found[c]] == threshold
    return found[:n], tied


@compiled
def select_tokens(ids: np.ndarray, attention: np.ndarray, allowed: np.ndarray, raw: np.ndarray,
                  found: np.ndarray, threshold: int, ties: bool, tie_draws: np.ndarray, rest: float,
                  masked: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """`Masker.drawn_tokens` over flat arrays, from the `candidates`: candidate i is selected
    when its byte is below `threshold` (or equal to it, `ties`, and its tie draw, taken in
    index order, is below `rest`), its attention is nonzero and its id is allowed (ids past the
    table clipped to its last entry, as `take(mode="clip")`). Writes `masked` (a copy of `ids`)
    and `labels` (the original id where selected, else -100); returns the selected positions,
    increasing."""
    for i in range(ids.size):
        masked[i] = ids[i]
        labels[i] = IGNORE_INDEX
    where = np.empty(found.size, dtype=np.int64)
    last = allowed.size - 1
    t = 0
    kept = 0
    for c in range(found.size):
        i = found[c]
        if ties and raw[i] == threshold:
            drawn = tie_draws[t] < rest
            t += 1
            if not drawn:
                continue
        token = ids[i]
        if attention[i] != 0 and allowed[min(max(token, 0), last)]:
            where[kept] = i
            labels[i] = token
            kept += 1
    return where[:kept]


@compiled
def replace_tokens(masked: np.ndarray, where: np.ndarray, action: np.ndarray, replace_mask: float,
                   upper: float, mask_id: int) -> np.ndarray:
    """Selected position k becomes `mask_id` when action[k] < replace_mask; the positions with
    replace_mask <= action[k] < upper (random replacements) are returned, in order."""
    to_random = np.empty(where.size, dtype=np.int64)
    m = 0
    for k in range(where.size):
        a = action[k]
        if a < replace_mask:
            masked[where[k]] = mask_id
        elif a < upper:
            to_random[m] = where[k]
            m += 1
    return to_random[:m]


@compiled
def put_random(masked: np.ndarray, to_random: np.ndarray, replacement: np.ndarray, draws: np.ndarray) -> None:
    """masked[to_random[k]] = replacement[draws[k]]."""
    for k in range(to_random.size):
        masked[to_random[k]] = replacement[draws[k]]
