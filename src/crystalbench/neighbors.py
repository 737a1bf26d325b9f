"""Periodic neighbour lists (pymatgen's compiled cell lists) and k-nearest-neighbour edges.

pymatgen's ``find_points_in_spheres`` is used rather than vesin: on the small cells of
MatBench it costs 20-60 µs per call against vesin's 100-200 µs (mostly Python overhead
in vesin's ctypes wrapper), and it takes a subset of centres, so an ASU graph searches
only around the orbit representatives.

Edge convention (PyG): messages flow from the source (a neighbour, possibly a periodic image)
to the target (the centre atom). The edge vector points from the source image to the target:
``x_target - (x_source + shift @ lattice)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymatgen.optimization.neighbors import find_points_in_spheres

TIE_TOLERANCE = 1e-6  # Å: neighbours this close to the k-th distance count as ties


@dataclass
class Edges:
    """Directed periodic edges, sorted by target, then distance, then source and image."""

    dst: np.ndarray  # (E,) int64 centre atom
    src: np.ndarray  # (E,) int64 neighbour atom
    shift: np.ndarray  # (E, 3) int64 lattice image of the source
    vec: np.ndarray  # (E, 3) float64 source image -> target, Å
    dist: np.ndarray  # (E,) float64
    area: np.ndarray | None = None  # (E,) Voronoi ridge area, Å² (Voronoi edges only)

    def select(self, mask: np.ndarray) -> Edges:
        return Edges(self.dst[mask], self.src[mask], self.shift[mask], self.vec[mask],
                     self.dist[mask], None if self.area is None else self.area[mask])


PERIODIC = np.ones(3, dtype=np.int64)


def radius_edges(
    lattice: np.ndarray, frac: np.ndarray, cutoff: float, centres: np.ndarray | None = None,
) -> Edges:
    """All periodic pairs closer than ``cutoff`` (no self pair at zero distance), sorted.

    With ``centres`` (atom indices), only edges into those atoms are returned.
    """
    lattice = np.ascontiguousarray(lattice, dtype=np.float64)
    cart = np.ascontiguousarray(frac, dtype=np.float64) @ lattice
    targets = cart if centres is None else np.ascontiguousarray(cart[centres])
    i, j, shifts, dist = find_points_in_spheres(cart, targets, float(cutoff), PERIODIC,
                                                lattice, tol=1e-8)
    keep = dist > 1e-8
    i, j, shifts, dist = i[keep], j[keep], shifts[keep], dist[keep]
    if centres is not None:
        i = np.asarray(centres)[i]
    shifts = np.round(shifts).astype(np.int64)
    order = np.lexsort((shifts[:, 2], shifts[:, 1], shifts[:, 0], j, dist, i))
    i, j, shifts, dist = i[order], j[order], shifts[order], dist[order]
    vec = cart[i] - cart[j] - shifts @ lattice
    return Edges(i.astype(np.int64), j.astype(np.int64), shifts, vec, dist)


def knn_edges(
    lattice: np.ndarray, frac: np.ndarray, k: int, tie_tolerance: float = TIE_TOLERANCE,
    centres: np.ndarray | None = None,
) -> Edges:
    """The k nearest periodic neighbours of every atom (or of ``centres``), plus all ties.

    The search radius starts where a uniform crystal would hold about 2k atoms and grows
    until every centre has k neighbours and the radius exceeds its k-th distance plus the
    tie tolerance, so no tie can be missed.
    """
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    n = len(frac)
    centres = np.arange(n) if centres is None else np.unique(centres)
    volume = abs(np.linalg.det(lattice))
    cutoff = (3 * 2 * k * volume / n / (4 * np.pi)) ** (1 / 3) + 0.5
    while True:
        edges = radius_edges(lattice, frac, cutoff, centres)
        counts = np.bincount(edges.dst, minlength=n)[centres]
        if counts.min() >= k:
            kth = edges.dist[np.cumsum(counts) - counts + k - 1]
            if kth.max() + tie_tolerance < cutoff:
                return nearest_with_ties(edges, n, k, tie_tolerance)
        cutoff *= 1.5


def nearest_with_ties(edges: Edges, n_atoms: int, k: int, tie_tolerance: float) -> Edges:
    """Keep, per target, its k nearest edges plus every tie with the k-th (sorted edges)."""
    counts = np.bincount(edges.dst, minlength=n_atoms)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    kth = np.full(n_atoms, np.inf)
    full = counts >= k
    kth[full] = edges.dist[starts[full] + k - 1]
    return edges.select(edges.dist <= kth[edges.dst] + tie_tolerance)


def radius_limited_edges(
    lattice: np.ndarray, frac: np.ndarray, cutoff: float, max_neighbors: int | None = None,
    tie_tolerance: float = TIE_TOLERANCE, centres: np.ndarray | None = None,
) -> Edges:
    """All pairs within ``cutoff``; with ``max_neighbors``, only the nearest ones per target.

    The cap keeps ties with the last kept neighbour, as kNN does: cutting a tie by index would
    treat symmetry-equivalent atoms differently and break the ASU equivalence.
    """
    edges = radius_edges(lattice, frac, cutoff, centres)
    if max_neighbors is None:
        return edges
    return nearest_with_ties(edges, len(frac), max_neighbors, tie_tolerance)
