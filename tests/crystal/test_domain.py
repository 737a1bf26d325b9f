import numpy as np

from crystalbench.crystal.domain import domain_warnings, training_domain
from crystalbench.crystal.graphs import CRYSTAL_GRAPHS, GraphSpec, build_graph
from crystalbench.crystal.symmetry import analyse_symmetry


def test_training_domain_covers_the_chosen_structures_only(demo_structures):
    structures = demo_structures[:40]
    for representation in ("asu", "cell"):  # multiplicities make ASU nodes count as atoms
        table = CRYSTAL_GRAPHS.table_of([
            build_graph(s, analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers),
                        GraphSpec(representation, k=12)) for s in structures])
        idx = np.arange(0, 40, 2)
        domain = training_domain(table, idx)
        chosen = [structures[i] for i in idx]
        assert domain["elements"] == sorted({int(z) for s in chosen for z in s.atomic_numbers})
        atoms = [len(s.atomic_numbers) for s in chosen]
        assert domain["atoms_per_cell"] == [min(atoms), max(atoms)]


def test_domain_warnings_name_unseen_elements_and_far_sizes(demo_structures):
    s = demo_structures[0]
    n = len(s.atomic_numbers)
    inside = {"elements": sorted({int(z) for z in s.atomic_numbers}), "atoms_per_cell": [n, n]}
    assert domain_warnings(s, inside) == []
    assert domain_warnings(s, inside | {"elements": []})[0].startswith(
        "elements absent from training: ")
    assert domain_warnings(s, inside | {"atoms_per_cell": [1, n / 2 - 1]}) == [
        f"{n} atoms per cell, training had 1-{n / 2 - 1}"]
    assert domain_warnings(s, inside | {"atoms_per_cell": [n, 2 * n]}) == []  # within 2x
