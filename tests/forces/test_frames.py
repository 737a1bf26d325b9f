import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import crystalbench.core.io
from crystalbench.core.io import read_metadata
from crystalbench.forces.frames import (
    Frame,
    InvalidFrameError,
    frame_id,
    frame_rejection_reason,
    read_frame_table,
    write_frame_table,
)


def make_frame(system: str = "s1", frame: int = 0, n: int = 4, seed: int = 0) -> Frame:
    rng = np.random.default_rng(seed)
    lattice = np.diag([6.0, 6.5, 20.0]) + rng.normal(0, 0.1, (3, 3))
    grid = np.array([[0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0.5, 0.5, 0.1]])[:n]
    positions = (grid + rng.uniform(0, 0.02, (n, 3))) @ lattice
    return Frame(
        id=frame_id(system, frame), system=system, frame=frame, lattice=lattice,
        positions=positions, atomic_numbers=np.array([29, 29, 8, 1][:n]),
        tags=np.array([0, 1, 2, 2][:n], dtype=np.int8),
        fixed=np.array([True, False, False, False][:n]),
        energy=float(rng.normal(-10, 1)), forces=rng.normal(0, 1, (n, 3)),
    )


def assert_frames_equal(a: Frame, b: Frame) -> None:
    assert (a.id, a.system, a.frame) == (b.id, b.system, b.frame)
    for name in ("lattice", "positions", "atomic_numbers", "tags", "fixed", "forces"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.energy == b.energy or (np.isnan(a.energy) and np.isnan(b.energy))


def test_round_trip_is_exact(tmp_path):
    frames = [make_frame("s1", k, seed=k) for k in range(3)] + [make_frame("s2", 0, n=3, seed=9)]
    frames[2].energy = float("nan")  # a source without energy is allowed
    frames[3].tags = np.full(3, -1, dtype=np.int8)
    out, rej = tmp_path / "frames.parquet", tmp_path / "rejects.parquet"
    assert write_frame_table(frames, out, rej, {"dataset": "unit"}) == (4, 0)
    back = read_frame_table(out)
    assert len(back) == 4
    for a, b in zip(frames, back, strict=True):
        assert_frames_equal(a, b)
    schema = pq.read_schema(out)
    assert schema.field("lattice").type == pa.list_(pa.list_(pa.float64(), 3), 3)
    assert schema.field("positions").type == pa.list_(pa.list_(pa.float64(), 3))
    assert schema.field("forces").type == pa.list_(pa.list_(pa.float64(), 3))
    assert schema.field("atomic_numbers").type == pa.list_(pa.int8())
    assert schema.field("tags").type == pa.list_(pa.int8())
    assert schema.field("fixed").type == pa.list_(pa.bool_())
    assert schema.field("frame").type == pa.int32()
    assert schema.field("n_atoms").type == pa.int32()
    assert pq.read_table(out)["n_atoms"].to_pylist() == [4, 4, 4, 3]
    meta = read_metadata(out)
    assert meta["dataset"] == "unit"
    assert (meta["n_input"], meta["n_kept"], meta["n_rejected"], meta["n_systems"]) == (4, 4, 0, 2)
    assert "crystalbench" in meta


def bad_frames() -> list[tuple[Frame, str]]:
    cases = []

    def case(change, expected: str, **kw) -> None:
        f = make_frame(frame=len(cases), **kw)
        change(f)
        cases.append((f, expected))

    case(lambda f: setattr(f, "problem", "no forces"), "no forces")
    case(lambda f: f.positions.__setitem__((2, 1), np.nan), "atom 2 has NaN or infinite positions")
    case(lambda f: f.forces.__setitem__((3, 0), np.inf), "atom 3 has NaN or infinite forces")
    case(lambda f: setattr(f, "forces", f.forces[:3]), "forces has shape (3, 3), expected (4, 3)")
    case(lambda f: setattr(f, "tags", np.array([0, 1, 3, 2])), "atom 2 has tag 3")
    case(lambda f: f.atomic_numbers.__setitem__(1, 0), "atomic numbers outside 1..118: [0]")
    case(lambda f: f.lattice.__setitem__(2, f.lattice[0] * 2), "singular lattice")
    case(lambda f: f.lattice.__setitem__((0, 0), np.nan), "lattice has NaN")
    case(lambda f: setattr(f, "energy", float("-inf")), "energy is infinite")
    case(lambda f: f.positions.__setitem__(3, f.positions[1] + [0.1, 0.1, 0.0]),
         "atoms 1 and 3 are 0.1414 Å apart")
    # an atom at the far side of the cell is close to the first one through the boundary
    case(lambda f: f.positions.__setitem__(3, f.positions[0] + f.lattice[0] - [0.2, 0, 0]),
         "atoms 0 and 3 are 0.2000 Å apart")
    case(lambda f: [setattr(f, k, getattr(f, k)[:0]) for k in
                    ("positions", "atomic_numbers", "tags", "fixed", "forces")], "no atoms")
    return cases


def test_rejection_reasons_name_the_problem():
    assert frame_rejection_reason(make_frame()) is None
    for f, expected in bad_frames():
        reason = frame_rejection_reason(f)
        assert reason is not None and expected in reason, (expected, reason)


def test_rejects_table_and_counts_reconcile(tmp_path):
    cases = bad_frames()
    good = [make_frame("ok", k, seed=k) for k in range(5)]
    frames = good[:2] + [f for f, _ in cases] + good[2:]
    out, rej = tmp_path / "frames.parquet", tmp_path / "rejects.parquet"
    kept, n_rej = write_frame_table(frames, out, rej, {"dataset": "unit"})
    assert (kept, n_rej) == (5, len(cases))
    assert kept + n_rej == len(frames)
    rejects = pq.read_table(rej)
    assert rejects.column_names == ["id", "system", "frame", "reason"]
    assert rejects["id"].to_pylist() == [f.id for f, _ in cases]
    for reason, (_, expected) in zip(rejects["reason"].to_pylist(), cases, strict=True):
        assert expected in reason
    assert [f.id for f in read_frame_table(out)] == [f.id for f in good]
    assert read_metadata(rej) == {"n_input": len(frames), "n_rejected": len(cases)}
    meta = read_metadata(out)
    assert (meta["n_input"], meta["n_kept"], meta["n_rejected"]) == (len(frames), 5, len(cases))


def test_empty_rejects_table_has_typed_columns(tmp_path):
    rej = tmp_path / "rejects.parquet"
    write_frame_table([make_frame()], tmp_path / "f.parquet", rej, {})
    schema = pq.read_schema(rej)
    assert [schema.field(c).type for c in ("id", "system", "frame", "reason")] == [
        pa.string(), pa.string(), pa.int32(), pa.string()]


def test_duplicate_id_is_an_error(tmp_path):
    a = make_frame("s1", 3)
    b = make_frame("s1", 3, seed=1)
    with pytest.raises(InvalidFrameError, match="'s1/0003': duplicate id"):
        write_frame_table([a, b], tmp_path / "f.parquet", tmp_path / "r.parquet", {})
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(crystalbench.core.io.pq, "write_table", crash)
    with pytest.raises(RuntimeError, match="interrupted"):
        write_frame_table([make_frame()], tmp_path / "f.parquet", tmp_path / "r.parquet", {})
    assert list(tmp_path.iterdir()) == []
