import numpy as np
import pyarrow.parquet as pq
import pytest

from crystalbench.core.io import read_metadata
from crystalbench.crystal.structures import (
    InvalidStructureError,
    Structure,
    read_structure_table,
    rejection_reason,
    validate,
    write_structure_table,
)


def good(sid: str = "ok") -> Structure:
    return Structure(sid, np.eye(3) * 3.0, np.array([[0, 0, 0], [0.5, 0.5, 0.5]]),
                     np.array([29, 79]), target=-0.1)


def bad_inputs() -> dict[str, tuple[Structure, str]]:
    nan = good("nan-coords")
    nan.frac_coords = np.array([[0, 0, 0], [np.nan, 0.5, 0.5]])
    inf = good("inf-coords")
    inf.frac_coords = np.array([[0, 0, 0], [0.5, np.inf, 0.5]])
    empty = Structure("empty", np.eye(3) * 3.0, np.zeros((0, 3)), np.zeros(0, int), 0.0)
    close = good("too-close")
    close.frac_coords = np.array([[0, 0, 0], [0.05, 0, 0]])
    self_image = Structure("tiny-cell", np.diag([0.3, 3, 3]), np.zeros((1, 3)),
                           np.array([29]), 0.0)
    singular = good("singular")
    singular.lattice = np.array([[3.0, 0, 0], [0, 3.0, 0], [3.0, 3.0, 0]])
    nan_lattice = good("nan-lattice")
    nan_lattice.lattice = np.array([[3.0, 0, 0], [0, np.nan, 0], [0, 0, 3.0]])
    return {
        "nan": (nan, "atom 1 has NaN or infinite coordinates"),
        "inf": (inf, "atom 1 has NaN or infinite coordinates"),
        "empty": (empty, "no atoms"),
        "close": (close, "atoms 0 and 1 are 0.1500 Å apart (minimum 0.5 Å)"),
        "self-image": (self_image, "atom 0 and its own periodic image are 0.3000 Å apart"),
        "singular": (singular, "singular lattice"),
        "nan-lattice": (nan_lattice, "lattice has NaN or infinite entries"),
    }


@pytest.mark.parametrize("kind", sorted(bad_inputs()))
def test_each_bad_input_is_rejected_with_its_reason(kind):
    structure, reason = bad_inputs()[kind]
    assert reason in rejection_reason(structure)
    with pytest.raises(InvalidStructureError, match=f"structure '{structure.id}': "):
        validate(structure)


def test_good_structure_passes():
    assert rejection_reason(good()) is None


def test_min_distance_is_configurable():
    s = good()
    s.frac_coords = np.array([[0, 0, 0], [0.2, 0, 0]])  # 0.6 Å apart
    assert rejection_reason(s, min_distance=0.5) is None
    assert "0.6000 Å apart (minimum 0.7 Å)" in rejection_reason(s, min_distance=0.7)


def test_writer_reconciles_counts_and_keeps_reasons(tmp_path):
    bad = [s for s, _ in bad_inputs().values()]
    inputs = [good("a"), *bad, good("b")]
    kept, rejected = write_structure_table(inputs, tmp_path / "s.parquet",
                                           tmp_path / "r.parquet", {"dataset": "t"})
    assert (kept, rejected) == (2, len(bad))
    rejects = pq.read_table(tmp_path / "r.parquet").to_pandas()
    assert sorted(rejects["id"]) == sorted(s.id for s in bad)
    assert rejects["reason"].str.len().min() > 0
    meta = read_metadata(tmp_path / "s.parquet")
    assert (meta["n_input"], meta["n_kept"], meta["n_rejected"]) == (len(inputs), 2, len(bad))
    assert [s.id for s in read_structure_table(tmp_path / "s.parquet")] == ["a", "b"]


def test_duplicate_ids_are_an_error(tmp_path):
    with pytest.raises(InvalidStructureError, match="'a': duplicate id"):
        write_structure_table([good("a"), good("a")], tmp_path / "s.parquet",
                              tmp_path / "r.parquet", {})


def test_round_trip_is_bit_exact(tmp_path, demo_structures):
    path = tmp_path / "s.parquet"
    write_structure_table(demo_structures, path, tmp_path / "r.parquet", {"dataset": "demo"})
    back = read_structure_table(path)
    assert len(back) == len(demo_structures)
    for a, b in zip(demo_structures, back, strict=True):
        assert a.id == b.id
        assert a.lattice.tobytes() == b.lattice.tobytes()
        assert np.asarray(a.frac_coords, np.float64).tobytes() == b.frac_coords.tobytes()
        assert np.array_equal(a.atomic_numbers, b.atomic_numbers)
        assert a.target == b.target
        assert a.extra == b.extra
    meta = read_metadata(path)
    assert meta["dataset"] == "demo" and meta["min_distance"] == 0.5
