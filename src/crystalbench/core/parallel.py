"""Ordered parallel map over structures for the preprocessing steps (symmetry, graphs).

Worker processes (spawned, so no forked locks from Arrow or BLAS threads) take chunks of
items; results come back in input order and are consumed as they arrive, so a streaming
writer keeps memory bounded by a few chunks rather than the whole dataset.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# a spawned worker needs ~2-3 s to import numpy, scipy, spglib, ase and pymatgen:
# below this many items per worker the start-up costs more than it saves
MIN_ITEMS_PER_PROCESS = 1000


def ordered_map(
    func: Callable[[T], R], items: Sequence[T], processes: int = 1, chunksize: int = 64,
) -> Iterator[R]:
    """``map(func, items)`` over up to ``processes`` worker processes, in input order.

    ``func`` must be a picklable top-level function (or a ``functools.partial`` of one).
    Small inputs run inline: no start-up cost and plain tracebacks.
    """
    processes = min(processes, len(items) // MIN_ITEMS_PER_PROCESS)
    if processes <= 1:
        yield from map(func, items)
        return
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        yield from pool.imap(func, items, chunksize=chunksize)
