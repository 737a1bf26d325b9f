from collections import Counter

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.emt import EMT

from crystalbench.forces.emt_demo import (
    ADSORBATES,
    MAX_INITIAL_FORCE,
    METALS,
    generate_emt_frames,
)
from crystalbench.forces.frames import Frame, frame_rejection_reason


@pytest.fixture(scope="module")
def demo() -> list[Frame]:
    return list(generate_emt_frames(seed=0))


def test_default_demo_size_and_validity(demo):
    counts = Counter(f.system for f in demo)
    assert len(counts) == 12 and set(counts.values()) == {25}
    assert len({f.id for f in demo}) == len(demo) == 300
    metals = {s.split("-")[1][:-3] for s in counts}
    assert metals == set(METALS)
    assert {s.split("-")[2] for s in counts} == set(ADSORBATES)
    for f in demo:
        assert frame_rejection_reason(f) is None, f.id
        assert 12 < f.n_atoms <= 30
        assert np.isfinite(f.energy)
    for system in counts:
        assert [f.frame for f in demo if f.system == system] == list(range(25))
    assert all(np.abs(f.forces).max() <= MAX_INITIAL_FORCE for f in demo if f.frame == 0)


def test_tags_and_fixed_follow_oc20(demo):
    for f in demo:
        assert not f.tags[f.fixed].any()  # fixed => tag 0
        assert (f.tags[~f.fixed] > 0).all()  # free slab atoms 1, adsorbate 2
        assert (f.tags == 2).sum() == 1 and f.tags[-1] == 2
        adsorbate = f.system.split("-")[2]
        assert Atoms(numbers=f.atomic_numbers[-1:]).get_chemical_symbols()[0] == adsorbate
        assert adsorbate in ADSORBATES
        # fixed atoms are the bottom of the slab: below every free slab atom
        z = f.positions[:, 2]
        assert z[f.fixed].max() < z[f.tags == 1].min()
        assert 0 < f.fixed.sum() < f.n_atoms - 1


def test_fixed_atoms_do_not_move_and_free_ones_do(demo):
    first = {f.system: f for f in demo if f.frame == 0}
    for f in demo:
        start = first[f.system]
        np.testing.assert_array_equal(f.positions[f.fixed], start.positions[f.fixed])
    last = [f for f in demo if f.frame == 24]
    assert all(np.abs(f.positions - first[f.system].positions).max() > 0.01 for f in last)


def test_labels_are_emt_raw_forces(demo):
    for f in (demo[0], demo[37], demo[-1]):
        atoms = Atoms(numbers=f.atomic_numbers, positions=f.positions, cell=f.lattice, pbc=True)
        atoms.calc = EMT()
        np.testing.assert_allclose(atoms.get_forces(), f.forces, rtol=0, atol=1e-10)
        assert atoms.get_potential_energy() == pytest.approx(f.energy, abs=1e-10)
        # constrained atoms keep their raw forces, as in OC20's apply_constraint=False
        assert np.abs(f.forces[f.fixed]).max() > 0


def test_same_seed_same_frames_and_requested_counts():
    kwargs = dict(n_systems=3, relax_steps=3, md_steps=10, md_interval=5)
    a = list(generate_emt_frames(seed=7, **kwargs))
    b = list(generate_emt_frames(seed=7, **kwargs))
    c = list(generate_emt_frames(seed=8, **kwargs))
    assert Counter(Counter(f.system for f in a).values()) == {3 + 1 + 2: 3}
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.id == y.id and x.energy == y.energy
        for name in ("lattice", "positions", "atomic_numbers", "tags", "fixed", "forces"):
            np.testing.assert_array_equal(getattr(x, name), getattr(y, name))
    assert any(not np.array_equal(x.positions, y.positions) for x, y in zip(a, c, strict=False))


def test_demo_round_trips_through_the_frame_table(demo, tmp_path):
    from crystalbench.forces.frames import read_frame_table, write_frame_table

    out, rej = tmp_path / "frames.parquet", tmp_path / "rejects.parquet"
    assert write_frame_table(demo, out, rej, {"dataset": "emt-demo", "seed": 0}) == (300, 0)
    for a, b in zip(demo, read_frame_table(out), strict=True):
        assert a.id == b.id and a.energy == b.energy
        np.testing.assert_array_equal(a.forces, b.forces)
        np.testing.assert_array_equal(a.tags, b.tags)
