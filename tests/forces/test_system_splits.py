import numpy as np
import pyarrow.parquet as pq
import pytest

from crystalbench.core.io import read_metadata
from crystalbench.forces.splits import (
    slab_composition,
    stratum_ranks,
    system_folds,
    training_subset,
    write_system_splits,
)


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
    assert table.column_names == ["id", "fold", "system", "stratum", "stratum_rank"]
    assert table["id"].to_pylist() == ids
    np.testing.assert_array_equal(table["fold"].to_numpy(), system_folds(systems, 3, 0))
    assert read_metadata(out)["n_systems"] == 6
    with pytest.raises(ValueError, match="duplicate id 'x'"):
        write_system_splits(["x", "x", "y"], ["a", "b", "c"], tmp_path / "d.parquet", 2, 0)


def metal_systems() -> tuple[list[str], list[str]]:
    """28 systems, 4 per metal (like the EMT demo), 3 frames each."""
    metals = ["Cu", "Ag", "Au", "Ni", "Pd", "Pt", "Al"]
    systems = [f"{metals[k % 7]}-{k:02d}" for k in range(28)]
    frames = [s for s in systems for _ in range(3)]
    return frames, [s.split("-")[0] for s in frames]


def test_stratified_folds_put_every_metal_in_every_fold():
    systems, strata = metal_systems()
    for seed in range(5):
        fold = system_folds(systems, 4, seed, strata)
        for k in range(4):
            in_fold = {m for m, f in zip(strata, fold, strict=True) if f == k}
            assert len(in_fold) == 7, (seed, k)  # so training holds every test metal too
    with pytest.raises(ValueError, match="system 'a' has frames in strata 'x' and 'y'"):
        system_folds(["a", "a", "b"], 2, 0, ["x", "y", "x"])


def test_training_subsets_are_nested_and_balanced_over_strata():
    systems, strata = metal_systems()
    fold = system_folds(systems, 4, 0, strata)
    ranks = stratum_ranks(systems, 0, strata)
    train_idx = np.flatnonzero(fold != 0)
    chosen = {}
    for n in (7, 14, 21):
        idx = training_subset(train_idx, systems, strata, ranks, n)
        chosen[n] = {systems[i] for i in idx}
        assert len(chosen[n]) == n and set(idx) <= set(train_idx)
        per_metal = np.unique([s.split("-")[0] for s in chosen[n]], return_counts=True)[1]
        assert (per_metal == n // 7).all()  # one system of every metal before a second
        assert len(idx) == 3 * n  # every frame of a chosen system
    assert chosen[7] < chosen[14] < chosen[21]
    with pytest.raises(ValueError, match="train_systems 22 outside 1..21"):
        training_subset(train_idx, systems, strata, ranks, 22)


def test_slab_composition_ignores_the_adsorbate():
    z = np.array([29, 29, 78, 8])
    assert slab_composition(z, np.array([0, 1, 1, 2])) == "CuPt"
    assert slab_composition(np.array([8]), np.array([2])) == "none"
