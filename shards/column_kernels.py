"""Compiled writes of `shards.columns.ColumnStore` (numba, where installed: the `train` extra).

`put_rows` writes a chunk's ragged list column into its slots, each row copied and padded in
place in one pass, where numpy builds a padded block (a fill and a boolean-mask assignment) and
scatters it into the slots: less memory traffic per example. The slots hold the same bytes
either way (tests/shards/test_batches.py compares both). Imported lazily by
`shards.columns.kernels()`; `compiled` (also what `trainer.masking_kernels` uses) caches the
machine code on disk.
"""

from __future__ import annotations

import warnings

import numpy as np
from numba import njit


def compiled(function=None, **options):
    """`function` compiled by numba, its machine code cached on disk; where no cache folder is
    writable (a read-only install and a read-only home, without NUMBA_CACHE_DIR) numba refuses
    to cache, and each process compiles it again (about 2 CPU seconds for
    trainer.masking_kernels): said once per process as a warning, the results are the same."""
    if function is None:
        return lambda f: compiled(f, **options)
    try:
        return njit(cache=True, nogil=True, **options)(function)
    except RuntimeError as error:  # numba: "cannot cache function ...: no locator available for file ..."
        if "no locator available" not in str(error):
            raise
        if not _UNCACHED:
            warnings.warn(f"{error}; the compiled kernels (token masking, slot writes, nsp's planner) compile in each "
                          f"process (set NUMBA_CACHE_DIR to a writable folder to keep them)", RuntimeWarning,
                          stacklevel=2)
            _UNCACHED.append(True)
        return njit(nogil=True, **options)(function)


_UNCACHED: list = []


@compiled
def put_rows(data: np.ndarray, slots: np.ndarray, lengths: np.ndarray, values: np.ndarray, pad) -> None:
    """data[slots[r]] = the r-th run of `values` (lengths[r] long, the runs back to back), then `pad`."""
    width = data.shape[1]
    start = 0
    for r in range(slots.size):
        row = data[slots[r]]
        length = lengths[r]
        for j in range(length):
            row[j] = values[start + j]
        for j in range(length, width):
            row[j] = pad
        start += length
