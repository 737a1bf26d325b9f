import numpy as np
import pytest
import spglib
from ase.build import bulk

from crystalbench.crystal.symmetry import analyse_symmetry, clean_symmetry
from crystalbench.crystal.symmetry_search import (
    CLEAN_MARGIN,
    exact_translations,
    find_clean_operations,
    product_table,
)

SYMPREC = 1e-4


def spglib_symmetry(s):
    return spglib.get_symmetry_dataset((s.lattice, s.frac_coords, s.atomic_numbers),
                                       symprec=SYMPREC)


def rotation_set(rotations) -> set:
    return {tuple(np.asarray(r, dtype=int).ravel()) for r in rotations}


def test_clean_operations_are_spglibs_on_every_real_crystal(demo_structures, real_structures):
    """Wherever the search answers, it answers what spglib does: the same operations, orbits
    and space group; and it answers for most bulk crystals."""
    answered = 0
    for s in demo_structures + real_structures:
        ops = find_clean_operations(s.lattice, s.frac_coords, s.atomic_numbers, SYMPREC)
        if ops is None:
            continue
        answered += 1
        ref = spglib_symmetry(s)
        assert rotation_set(ops.rotations) == rotation_set(ref.rotations), s.id
        ours = clean_symmetry(s.lattice, s.frac_coords, s.atomic_numbers, SYMPREC)
        assert ours is not None and ours.search == "clean", s.id
        assert ours.spacegroup == ref.number, s.id
        assert np.array_equal(ours.orbit, ref.crystallographic_orbits), s.id
    assert answered > 2000, answered  # 2,076 of 2,205


def test_clean_and_spglib_paths_symmetrise_alike(real_structures, monkeypatch):
    """The two paths agree on the symmetrised cell, not only on the orbits."""
    from crystalbench.crystal import symmetry as symmetry_module

    sample = real_structures[::10]
    clean = [analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers) for s in sample]
    assert sum(a.search == "clean" for a in clean) > 150  # 181 of these 191
    monkeypatch.setattr(symmetry_module, "find_clean_operations", lambda *a, **k: None)
    for s, a in zip(sample, clean, strict=True):
        b = analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
        assert b.search == "spglib"
        assert a.spacegroup == b.spacegroup and np.array_equal(a.orbit, b.orbit), s.id
        # both are projections of the same input onto the same group, up to an origin shift
        cart_a, cart_b = a.frac_coords @ a.lattice, b.frac_coords @ b.lattice
        assert np.abs(a.lattice - b.lattice).max() < 1e-6, s.id
        shift = (cart_a - cart_b).mean(axis=0)
        assert np.abs(cart_a - cart_b - shift).max() < 1e-6, s.id


@pytest.mark.parametrize(("structure", "n_ops", "number"), [
    (bulk("Cu", "fcc", a=3.6), 48, 225),
    (bulk("Fe", "bcc", a=2.87), 48, 229),
    (bulk("NaCl", "rocksalt", a=5.64), 48, 225),
    (bulk("GaAs", "zincblende", a=5.65), 24, 216),
    (bulk("Mg", "hcp", a=3.2, c=5.2), 24, 194),
    (bulk("Si", "diamond", a=5.43), 48, 227),
])
def test_textbook_crystals(structure, n_ops, number):
    lattice = np.array(structure.cell[:])
    frac, numbers = structure.get_scaled_positions(), structure.numbers
    ops = find_clean_operations(lattice, frac, numbers, SYMPREC)
    assert ops is not None and len(ops.rotations) == n_ops
    kind = spglib.get_spacegroup_type_from_symmetry(ops.rotations.astype(np.intc),
                                                    ops.translations, lattice, SYMPREC)
    assert kind.number == number


def test_a_supercell_is_left_to_spglib():
    cu = bulk("Cu", "fcc", a=3.6).repeat((2, 1, 1))
    assert find_clean_operations(np.array(cu.cell[:]), cu.get_scaled_positions(), cu.numbers,
                                 SYMPREC) is None


@pytest.mark.parametrize(("displacement", "answer"), [
    (1e-6, "cubic"), (0.3 * SYMPREC, None), (0.9 * SYMPREC, None), (1e-2, "lower")])
def test_displacements_near_symprec_are_left_to_spglib(displacement, answer):
    """A distortion within a factor of CLEAN_MARGIN of symprec is a tolerance question: no
    answer. (The cubic operations move the displaced atom by sqrt(2) or 2 times its
    displacement, so both middle cases put deviations inside that band.)"""
    assert CLEAN_MARGIN == 2
    nacl = bulk("NaCl", "rocksalt", a=5.64)
    lattice = np.array(nacl.cell[:])
    frac = nacl.get_scaled_positions()
    frac[1] += np.array([displacement, 0.0, 0.0]) @ np.linalg.inv(lattice)
    ops = find_clean_operations(lattice, frac, nacl.numbers, SYMPREC)
    if answer is None:
        assert ops is None
    else:
        assert ops is not None and (len(ops.rotations) == 48) == (answer == "cubic")


def test_exact_translations_compose_exactly():
    """Noise on the translations of a real space group is removed: the group closes exactly."""
    gaas = bulk("GaAs", "zincblende", a=5.65)
    gaas.positions[1] += [0.3, 0.1, 0.2]  # a general origin, non-trivial translations
    lattice = np.array(gaas.cell[:])
    ops = find_clean_operations(lattice, gaas.get_scaled_positions(), gaas.numbers, SYMPREC)
    assert ops is not None
    order, table = product_table(ops.rotations)
    assert np.array_equal(order, np.arange(len(order)))  # the search returns them in order
    rng = np.random.default_rng(0)
    noisy = ops.translations + rng.normal(0, 1e-5, ops.translations.shape)
    fixed = exact_translations(ops.rotations, noisy, table, lattice, 1e-3)
    composed = fixed[:, None, :] + np.einsum("gij,hj->ghi", ops.rotations, fixed)
    defect = composed - fixed[table]
    assert np.abs(defect - np.round(defect)).max() < 1e-12
    assert np.abs(fixed - noisy).max() < 1e-4


def test_a_set_that_is_not_a_group_is_refused():
    rotations = np.array([np.eye(3, dtype=np.int64), np.diag([-1, 1, 1])])
    assert product_table(rotations) is not None
    assert product_table(np.array([np.eye(3, dtype=np.int64), [[0, 1, 0], [0, 0, 1],
                                                                [1, 0, 0]]])) is None
