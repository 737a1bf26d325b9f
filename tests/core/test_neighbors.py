import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import neighbor_list

from crystalbench.core.neighbors import knn_edges, radius_limited_edges


def ase_knn(s, k: int, tol: float = 1e-6) -> dict:
    """Independent kNN: ASE's periodic neighbour list (numpy), per-atom sort, ties kept.

    Not pymatgen's: ours is built on pymatgen's cell lists, so it would not be independent.
    """
    atoms = Atoms(numbers=s.atomic_numbers, scaled_positions=s.frac_coords, cell=s.lattice,
                  pbc=True)
    radius = 6.0
    while True:
        centre, neighbour, images, dist = neighbor_list("ijSd", atoms, radius)
        edges, complete = {}, True
        for i in range(len(atoms)):
            mine = np.flatnonzero((centre == i) & (dist > 1e-8))
            if len(mine) < k or np.sort(dist[mine])[k - 1] + tol >= radius:
                complete = False
                break
            kth = np.sort(dist[mine])[k - 1]
            for e in mine[dist[mine] <= kth + tol]:
                edges[(i, int(neighbour[e]), *map(int, images[e]))] = dist[e]
        if complete:
            return edges
        radius *= 1.5


def test_knn_equals_ase_on_real_structures(real_structures):
    for s in real_structures:
        ours = knn_edges(s.lattice, s.frac_coords, 24)
        got = {(int(d), int(j), *map(int, sh)): x
               for d, j, sh, x in zip(ours.dst, ours.src, ours.shift, ours.dist, strict=True)}
        ref = ase_knn(s, 24)
        assert got.keys() == ref.keys(), s.id
        worst = max(abs(got[key] - ref[key]) for key in ref)
        assert worst < 1e-5, (s.id, worst)
        # the stored vector is the true source-image -> target vector
        assert np.allclose(np.linalg.norm(ours.vec, axis=1), ours.dist, atol=1e-10)


def test_centres_select_the_same_edges(real_structures):
    """Searching around a subset of atoms gives exactly those atoms' edges of the full search."""
    for s in real_structures[::7]:
        centres = np.arange(0, len(s.frac_coords), 2)
        for full, part in [
            (knn_edges(s.lattice, s.frac_coords, 12),
             knn_edges(s.lattice, s.frac_coords, 12, centres=centres)),
            (radius_limited_edges(s.lattice, s.frac_coords, 5.0, 20),
             radius_limited_edges(s.lattice, s.frac_coords, 5.0, 20, centres=centres)),
        ]:
            expected = full.select(np.isin(full.dst, centres))
            for name in ("dst", "src", "shift", "vec", "dist"):
                assert np.array_equal(getattr(part, name), getattr(expected, name)), (s.id, name)


@pytest.mark.parametrize(("k", "expected"), [(12, 12), (13, 18), (18, 18), (19, 42), (24, 42)])
def test_knn_keeps_every_tie(k, expected):
    cu = bulk("Cu", "fcc", a=3.6)  # shells of 12, 6, 24 neighbours
    edges = knn_edges(np.array(cu.cell[:]), cu.get_scaled_positions(), k)
    assert len(edges.dst) == expected


def test_knn_vector_direction():
    lattice = np.eye(3) * 10.0
    frac = np.array([[0.0, 0.0, 0.0], [0.15, 0.0, 0.0]])
    edges = knn_edges(lattice, frac, 1)
    into_0 = edges.select(edges.dst == 0)
    assert into_0.src.tolist() == [1]
    assert np.allclose(into_0.vec, [[-1.5, 0.0, 0.0]])  # from atom 1 to atom 0


def test_knn_reaches_beyond_vacuum():
    """A 2D slab with 20 Å vacuum still gets k neighbours (the radius grows)."""
    lattice = np.diag([2.5, 2.5, 25.0])
    edges = knn_edges(lattice, np.zeros((1, 3)), 24)
    assert len(edges.dst) >= 24


@pytest.mark.parametrize("cutoff", [4.0, 6.0])
def test_radius_edges_equal_ase(real_structures, cutoff):
    """Independent check: ASE's neighbor_list (i = centre, image S of j) on real crystals."""
    for s in real_structures[::3]:
        atoms = Atoms(numbers=s.atomic_numbers, scaled_positions=s.frac_coords, cell=s.lattice,
                      pbc=True)
        i, j, shift, dist = neighbor_list("ijSd", atoms, cutoff)
        ref = {(int(a), int(b), *map(int, c)): d for a, b, c, d in zip(i, j, shift, dist,
                                                                        strict=True)}
        ours = radius_limited_edges(s.lattice, s.frac_coords, cutoff)
        got = {(int(d), int(j), *map(int, sh)): x
               for d, j, sh, x in zip(ours.dst, ours.src, ours.shift, ours.dist, strict=True)}
        # pairs within float rounding of the cutoff may fall either way
        edge = {key for key, d in (ref | got).items() if abs(d - cutoff) < 1e-9}
        assert got.keys() - edge == ref.keys() - edge, s.id
        assert max((abs(got[key] - ref[key]) for key in ref.keys() & got.keys()),
                   default=0.0) < 1e-5, s.id


@pytest.mark.parametrize(("cap", "expected"), [(None, 42), (12, 12), (13, 18), (30, 42)])
def test_radius_cap_keeps_ties(cap, expected):
    cu = bulk("Cu", "fcc", a=3.6)  # within 4.5 Å: shells of 12, 6 and 24
    edges = radius_limited_edges(np.array(cu.cell[:]), cu.get_scaled_positions(), 4.5, cap)
    assert len(edges.dst) == expected
