from functools import partial

import numpy as np

from crystalbench.core import parallel
from crystalbench.crystal.symmetry import _analyse


def test_workers_return_results_in_input_order(monkeypatch, demo_structures):
    monkeypatch.setattr(parallel, "MIN_ITEMS_PER_PROCESS", 10)
    structures = demo_structures[:60]
    func = partial(_analyse, symprec=1e-4)
    inline = list(parallel.ordered_map(func, structures, processes=1))
    pooled = list(parallel.ordered_map(func, structures, processes=2, chunksize=7))
    assert [s.orbit.tolist() for s in pooled] == [s.orbit.tolist() for s in inline]
    for a, b in zip(pooled, inline, strict=True):
        np.testing.assert_array_equal(a.frac_coords, b.frac_coords)


def test_small_inputs_run_inline(demo_structures):
    # a lambda cannot be pickled: this only works if no worker process is used
    out = list(parallel.ordered_map(lambda s: s.id, demo_structures[:5], processes=4))
    assert out == [s.id for s in demo_structures[:5]]
