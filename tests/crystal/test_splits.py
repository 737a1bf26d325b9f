import numpy as np
import pyarrow.parquet as pq

from crystalbench.core.io import read_metadata
from crystalbench.crystal.splits import MATBENCH_SEED, kfold_assignments, write_splits


def independent_kfold(n: int, n_folds: int, seed: int) -> np.ndarray:
    """KFold(shuffle=True) by hand: a RandomState permutation cut into near-equal folds."""
    order = np.arange(n)
    np.random.RandomState(seed).shuffle(order)
    sizes = np.full(n_folds, n // n_folds)
    sizes[: n % n_folds] += 1
    folds = np.empty(n, dtype=int)
    start = 0
    for fold, size in enumerate(sizes):
        folds[order[start:start + size]] = fold
        start += size
    return folds


def test_folds_match_independent_kfold():
    ids = [f"mb-x-{i}" for i in range(636)]
    got = kfold_assignments(ids, 5, MATBENCH_SEED)["fold"].to_numpy()
    assert np.array_equal(got, independent_kfold(636, 5, MATBENCH_SEED))
    assert sorted(np.bincount(got).tolist()) == [127, 127, 127, 127, 128]


def test_split_table_written_with_protocol(tmp_path):
    write_splits(["a", "b", "c", "d"], tmp_path / "s.parquet", n_folds=2, seed=1)
    table = pq.read_table(tmp_path / "s.parquet").to_pandas()
    assert table["id"].tolist() == ["a", "b", "c", "d"]
    assert sorted(table["fold"].tolist()) == [0, 0, 1, 1]
    assert read_metadata(tmp_path / "s.parquet") == {
        "protocol": "KFold", "n_folds": 2, "random_state": 1}
