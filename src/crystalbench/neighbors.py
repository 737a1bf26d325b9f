"""Periodic neighbour lists (vesin, compiled) and k-nearest-neighbour edge selection.

Edge convention (PyG): messages flow from the source (a neighbour, possibly a periodic image)
to the target (the centre atom). The edge vector points from the source image to the target:
``x_target - (x_source + shift @ lattice)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import vesin

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


def radius_edges(lattice: np.ndarray, frac: np.ndarray, cutoff: float) -> Edges:
    """All periodic pairs closer than ``cutoff`` (no self pair at zero distance), sorted."""
    cart = np.asarray(frac, dtype=np.float64) @ lattice
    nl = vesin.NeighborList(cutoff=float(cutoff), full_list=True)
    i, j, shifts, vectors, dist = nl.compute(cart, lattice, True, quantities="ijSDd")
    keep = dist > 1e-8
    i, j, shifts, vectors, dist = i[keep], j[keep], shifts[keep], vectors[keep], dist[keep]
    # vesin's vector runs from i to the image of j; ours runs from the source image to i
    order = np.lexsort((shifts[:, 2], shifts[:, 1], shifts[:, 0], j, dist, i))
    return Edges(i[order].astype(np.int64), j[order].astype(np.int64),
                 shifts[order].astype(np.int64), -vectors[order], dist[order])


def knn_edges(
    lattice: np.ndarray, frac: np.ndarray, k: int, tie_tolerance: float = TIE_TOLERANCE,
) -> Edges:
    """The k nearest periodic neighbours of every atom, plus all ties with the k-th.

    The search radius starts where a uniform crystal would hold about 2k atoms and grows
    until every atom has k neighbours and the radius exceeds its k-th distance plus the
    tie tolerance, so no tie can be missed.
    """
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    n = len(frac)
    volume = abs(np.linalg.det(lattice))
    cutoff = (3 * 2 * k * volume / n / (4 * np.pi)) ** (1 / 3) + 0.5
    while True:
        edges = radius_edges(lattice, frac, cutoff)
        counts = np.bincount(edges.dst, minlength=n)
        if counts.min() >= k:
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            if edges.dist[starts + k - 1].max() + tie_tolerance < cutoff:
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
    tie_tolerance: float = TIE_TOLERANCE,
) -> Edges:
    """All pairs within ``cutoff``; with ``max_neighbors``, only the nearest ones per target.

    The cap keeps ties with the last kept neighbour, as kNN does: cutting a tie by index would
    treat symmetry-equivalent atoms differently and break the ASU equivalence.
    """
    edges = radius_edges(lattice, frac, cutoff)
    if max_neighbors is None:
        return edges
    return nearest_with_ties(edges, len(frac), max_neighbors, tie_tolerance)
