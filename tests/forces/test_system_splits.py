import numpy as np
import pyarrow.parquet as pq
import pytest

from crystalbench.forces.splits import system_folds, write_system_splits
from crystalbench.io import read_metadata


def frames_of(n_systems: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    systems = [f"sys{k:03d}" for k in range(n_systems)]
    return [s for s in systems for _ in range(int(rng.integers(1, 30)))]


def test_no_system_straddles_folds_and_sizes_balance():
    systems = frames_of(23)
    fold = system_folds(systems, folds=5, seed=3)
    assert fold.shape == (len(systems),)
    fold_of = {}
    for s, f in zip(systems, fold, strict=True):
        assert fold_of.setdefault(s, f) == f, s
    sizes = np.bincount(list(fold_of.values()), minlength=5)
    assert sizes.max() - sizes.min() <= 1 and sizes.sum() == 23


def test_folds_are_deterministic_and_order_free():
    systems = frames_of(17)
    a = system_folds(systems, 4, seed=1)
    np.testing.assert_array_equal(a, system_folds(systems, 4, seed=1))
    perm = np.random.default_rng(0).permutation(len(systems))
    shuffled = [systems[i] for i in perm]
    np.testing.assert_array_equal(system_folds(shuffled, 4, seed=1), a[perm])
    assert not np.array_equal(a, system_folds(systems, 4, seed=2))


def test_too_few_systems_is_an_error():
    with pytest.raises(ValueError, match="3 systems cannot fill 5 folds"):
        system_folds(["a", "a", "b", "c"], 5, seed=0)


def test_write_system_splits(tmp_path):
    systems = frames_of(6)
    ids = [f"{s}/{k:04d}" for k, s in enumerate(systems)]
    out = tmp_path / "splits.parquet"
    write_system_splits(ids, systems, out, folds=3, seed=0)
    table = pq.read_table(out)
    assert table.column_names == ["id", "fold", "system"]
    assert table["id"].to_pylist() == ids
    np.testing.assert_array_equal(table["fold"].to_numpy(), system_folds(systems, 3, 0))
    assert read_metadata(out)["n_systems"] == 6
    with pytest.raises(ValueError, match="duplicate id 'x'"):
        write_system_splits(["x", "x", "y"], ["a", "b", "c"], tmp_path / "d.parquet", 2, 0)
