import logging
import pickle
from collections import Counter

import lmdb
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from conftest import require_data
from torch_geometric.data import Data

from crystalbench.forces.frames import Frame, frame_rejection_reason
from crystalbench.forces.oc20 import read_ase_frames, read_lmdb_frames

# frames per system, from shared/data/README.md (oc20/trajectories)
README_FRAMES = {
    "random1000120": 112, "random1000142": 59, "random1000156": 36,
    "random1000163": 27, "random1000188": 93, "random1000194": 61,
}
# adsorbates from the README table: C2H3O, H, H, O, NH2, N2H
ADSORBATE_ATOMS = {
    "random1000120": 6, "random1000142": 1, "random1000156": 1,
    "random1000163": 1, "random1000188": 3, "random1000194": 3,
}


@pytest.fixture(scope="module")
def extxyz() -> tuple[list[Frame], list[str]]:
    return read_ase_frames([require_data("oc20/oc20_s2ef_sample.extxyz.gz")], "oc20-sample")


@pytest.fixture(scope="module")
def traj() -> tuple[list[Frame], list[str]]:
    paths = [require_data(f"oc20/trajectories/{s}.traj") for s in README_FRAMES]
    return read_ase_frames(paths, "oc20-traj")


def test_extxyz_sample_loads(extxyz):
    frames, warnings = extxyz
    assert len(frames) == 388
    assert Counter(f.system for f in frames) == README_FRAMES
    assert len({f.id for f in frames}) == 388
    for f in frames:
        assert frame_rejection_reason(f) is None, f.id
        assert np.isfinite(f.energy)
        assert f.forces.shape == f.positions.shape == (f.n_atoms, 3)
        # tags from the file are kept (inferred by whoever made it: fixed 0, adsorbate 2)
        assert set(np.unique(f.tags)) <= {0, 1, 2}
        assert not f.tags[f.fixed].any()
        assert (f.tags == 2).sum() == ADSORBATE_ATOMS[f.system]
        assert 0 < f.fixed.sum() < f.n_atoms
    # frame numbers come from the file's 'frame' key: 0..n-1 per system
    for system, n in README_FRAMES.items():
        assert sorted(f.frame for f in frames if f.system == system) == list(range(n))
    assert sum("raw DFT totals" in w for w in warnings) == 1
    # the extxyz stores constrained forces (0 on fixed atoms); the reader says so per system
    assert sum("forces on fixed atoms are exactly 0" in w for w in warnings) == 6


def test_raw_energy_warning_is_logged(caplog):
    path = require_data("oc20/trajectories/random1000163.traj")
    with caplog.at_level(logging.WARNING):
        read_ase_frames([path], "one")
    assert any("raw DFT totals" in r.getMessage() for r in caplog.records)


def test_traj_files_load_with_unknown_tags(traj):
    frames, warnings = traj
    assert Counter(f.system for f in frames) == README_FRAMES
    for f in frames:
        assert frame_rejection_reason(f) is None, f.id
        assert (f.tags == -1).all()
        assert f.fixed.any()
    for system in README_FRAMES:
        assert any(system in w and "tags are not set" in w for w in warnings), system
    # raw DFT forces: constrained atoms keep their (non-zero) labels
    assert any(np.abs(f.forces[f.fixed]).max() > 0.1 for f in frames)
    assert not any("fixed atoms are exactly 0" in w for w in warnings)


def test_traj_and_extxyz_agree(extxyz, traj):
    """The extxyz is the trajectories flattened: same frames, same labels on free atoms.

    It differs in one known way: its forces on fixed atoms are 0 (constraint applied when it
    was written), while the .traj files keep the raw DFT forces there.
    """
    x = {f.id: f for f in extxyz[0]}
    t = {f.id: f for f in traj[0]}
    assert x.keys() == t.keys()
    largest_fixed_force = 0.0
    for key, a in x.items():
        b = t[key]
        np.testing.assert_array_equal(a.atomic_numbers, b.atomic_numbers)
        np.testing.assert_array_equal(a.fixed, b.fixed)
        np.testing.assert_allclose(a.lattice, b.lattice, atol=1e-6)
        np.testing.assert_allclose(a.positions, b.positions, atol=1e-6)
        assert abs(a.energy - b.energy) < 1e-6
        free = ~a.fixed
        np.testing.assert_allclose(a.forces[free], b.forces[free], atol=1e-6)
        assert not a.forces[a.fixed].any()
        largest_fixed_force = max(largest_fixed_force, np.abs(b.forces[b.fixed]).max())
    assert largest_fixed_force > 1.0


def test_reference_energies_are_subtracted_or_required():
    path = require_data("oc20/trajectories/random1000163.traj")
    raw, _ = read_ase_frames([path], "one")
    ref, warnings = read_ase_frames([path], "one", reference_energies={"random1000163": -100.0})
    assert not any("raw DFT totals" in w for w in warnings)
    np.testing.assert_allclose([f.energy for f in ref], [f.energy + 100.0 for f in raw])
    match = r"no reference energy for system\(s\) \['random1000163'\]"
    with pytest.raises(ValueError, match=match):
        read_ase_frames([path], "one", reference_energies={"other": 0.0})


def test_ase_db_fixture_keeps_tags_and_fixed():
    frames, warnings = read_ase_frames([require_data("oc20/s2ef_frame_atoms.json")], "atoms-json")
    (f,) = frames
    assert f.n_atoms == 34
    assert sorted(Counter(f.tags.tolist()).items()) == [(0, 32), (1, 2)]
    assert f.fixed.sum() == 24
    assert f.energy == pytest.approx(-135.66393572)
    assert frame_rejection_reason(f) is None
    assert not any("tags are not set" in w for w in warnings)


def test_problems_are_reported_not_dropped(tmp_path):
    import ase.io
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.constraints import FixAtoms

    atoms = Atoms("Cu2", positions=[[0, 0, 0], [1.8, 0, 0]], cell=[4, 4, 10], pbc=[1, 1, 0])
    atoms.info["sid"] = "nopbc"
    atoms.arrays["forces"] = np.ones((2, 3))
    no_forces = Atoms("Cu2", positions=[[0, 0, 0], [1.8, 0, 0]], cell=[4, 4, 10], pbc=True)
    no_forces.info["sid"] = "noforces"
    clash = no_forces.copy()
    clash.info["sid"] = "clash"
    clash.arrays["fixed"] = np.array([1, 0])
    clash.set_constraint(FixAtoms([1]))  # written as the extxyz move_mask column
    clash.calc = SinglePointCalculator(clash, energy=-1.0, forces=np.zeros((2, 3)))
    path = tmp_path / "bad.extxyz"
    ase.io.write(path, [atoms, no_forces], format="extxyz")
    frames, _ = read_ase_frames([path], "bad")
    assert [f.problem for f in frames] == ["not periodic along cell vector(s) c", "no forces"]
    clash_path = tmp_path / "clash.extxyz"
    ase.io.write(clash_path, clash, format="extxyz")
    (f,), _ = read_ase_frames([clash_path], "bad")
    assert f.problem == ("clash.extxyz frame 0: FixAtoms constraint and 'fixed' column "
                         "disagree on atoms [0, 1]")


def oc20_data(f: Frame, pyg1: bool) -> Data:
    """A PyG Data with the field names and dtypes of ocp's AtomsToGraphs S2EF LMDBs."""
    fields = {
        "pos": torch.tensor(f.positions, dtype=torch.float32),
        "atomic_numbers": torch.tensor(f.atomic_numbers, dtype=torch.float32),
        "cell": torch.tensor(f.lattice, dtype=torch.float32).view(1, 3, 3),
        "natoms": f.n_atoms,
        "tags": torch.tensor(f.tags, dtype=torch.long),
        "fixed": torch.tensor(f.fixed, dtype=torch.float32),
        "y": f.energy,
        "force": torch.tensor(f.forces, dtype=torch.float32),
        "sid": int(f.system.removeprefix("random")),
        "fid": f.frame,
    }
    if not pyg1:
        return Data(**fields)
    old = Data.__new__(Data)  # PyG 1.x pickles keep the fields in __dict__, not _store
    old.__setstate__(fields)
    return old


def write_lmdb(path, datas, subdir=False) -> None:
    env = lmdb.open(str(path), subdir=subdir, map_size=1 << 26)
    with env.begin(write=True) as txn:
        for i, d in enumerate(datas):
            txn.put(str(i).encode(), pickle.dumps(d))
        txn.put(b"length", pickle.dumps(len(datas)))
    env.close()


@pytest.mark.parametrize("pyg1", [False, True])
def test_lmdb_round_trip(extxyz, tmp_path, pyg1):
    source = [extxyz[0][k] for k in (0, 150, 387)]
    folder = tmp_path / "s2ef"
    folder.mkdir()
    write_lmdb(folder / "data.0000.lmdb", [oc20_data(f, pyg1) for f in source[:2]])
    write_lmdb(folder / "data.0001.lmdb", [oc20_data(source[2], pyg1)])
    for path, expected in ((folder, source), (folder / "data.0001.lmdb", source[2:])):
        frames = read_lmdb_frames(path, allow_pickle=True)
        assert len(frames) == len(expected)
        for a, b in zip(frames, expected, strict=True):
            assert a.id == b.id.removeprefix("random") and a.frame == b.frame
            assert a.problem == ""
            np.testing.assert_array_equal(a.atomic_numbers, b.atomic_numbers)
            np.testing.assert_array_equal(a.tags, b.tags)
            np.testing.assert_array_equal(a.fixed, b.fixed)
            np.testing.assert_allclose(a.positions, b.positions, rtol=1e-6, atol=1e-5)
            np.testing.assert_allclose(a.lattice, b.lattice, rtol=1e-6, atol=1e-5)
            np.testing.assert_allclose(a.forces, b.forces, rtol=1e-6, atol=1e-6)
            assert a.energy == b.energy
            assert frame_rejection_reason(a) is None


def test_lmdb_needs_explicit_pickle_opt_in(tmp_path):
    path = tmp_path / "data.0000.lmdb"
    write_lmdb(path, [Data(pos=torch.zeros(1, 3))])
    with pytest.raises(ValueError, match="pickles.*execute.*allow_pickle: true.*--allow-pickle"):
        read_lmdb_frames(path, allow_pickle=False)


def test_lmdb_without_labels_is_rejected_with_reason(tmp_path):
    """S2EF test LMDBs carry no y/force: such frames are read, then rejected by reason."""
    path = tmp_path / "test.lmdb"
    data = Data(pos=torch.rand(2, 3) * 3, atomic_numbers=torch.tensor([29.0, 8.0]),
                cell=torch.eye(3).view(1, 3, 3) * 6, natoms=2, sid=7, fid=0)
    write_lmdb(path, [data])
    (f,) = read_lmdb_frames(path, allow_pickle=True)
    assert np.isnan(f.energy)
    assert frame_rejection_reason(f) == "no forces"


def test_oc20_frames_fill_a_frame_table(traj, tmp_path):
    from crystalbench.forces.frames import read_frame_table, write_frame_table

    frames, _ = traj
    out, rej = tmp_path / "frames.parquet", tmp_path / "rejects.parquet"
    assert write_frame_table(frames, out, rej, {"dataset": "oc20-traj"}) == (388, 0)
    back = read_frame_table(out)
    assert Counter(f.system for f in back) == README_FRAMES
    assert all((f.tags == -1).all() for f in back)
    np.testing.assert_array_equal(back[-1].forces, frames[-1].forces)


def test_frames_command_reads_every_lmdb_file_it_is_given(extxyz, tmp_path):
    """Two LMDB files on the command line: the frames of both land in the table."""
    from crystalbench.cli import main

    source = [extxyz[0][k] for k in (0, 150, 387)]
    write_lmdb(tmp_path / "a.lmdb", [oc20_data(f, False) for f in source[:2]])
    write_lmdb(tmp_path / "b.lmdb", [oc20_data(source[2], False)])
    out = tmp_path / "frames.parquet"
    main(["s2ef-frames", "--dataset", "two", "--source", "lmdb", "--allow-pickle", "--files",
          str(tmp_path / "a.lmdb"), str(tmp_path / "b.lmdb"), "--out", str(out),
          "--rejects", str(tmp_path / "rejects.parquet")])
    assert len(pq.read_table(out)) == 3
    with pytest.raises(SystemExit, match="no lmdb files given"):
        main(["s2ef-frames", "--dataset", "none", "--source", "lmdb", "--out", str(out),
              "--rejects", str(tmp_path / "rejects.parquet")])
