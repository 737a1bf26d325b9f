"""Line graphs for angle-aware models: ordered pairs of distinct edges that share a target.

Pair (a, b) means edges a = (i -> j) and b = (k -> j); the angle between their vectors is the
angle at j. Multi-edges (periodic images, symmetry copies of one source) are distinct edges and
keep their angles. On an ASU graph the pairs are exact: every in-edge of an ASU node is there.
"""

from __future__ import annotations

import numpy as np


def angle_pairs(edge_dst: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs (a, b), a != b, of edges with the same target; edges sorted by target."""
    edge_dst = np.asarray(edge_dst, dtype=np.int64)
    if len(edge_dst) and np.any(np.diff(edge_dst) < 0):
        raise ValueError("edges must be sorted by target")
    counts = np.bincount(edge_dst, minlength=n_nodes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    per_edge = counts[edge_dst]  # partners of each edge, itself included
    a = np.repeat(np.arange(len(edge_dst)), per_edge)
    first = np.repeat(np.cumsum(per_edge) - per_edge, per_edge)
    b = starts[edge_dst[a]] + (np.arange(len(a)) - first)
    keep = a != b
    return a[keep], b[keep]


def pair_angles(edge_vec: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles (rad, in [0, pi]) between the vectors of edges a and b."""
    u, v = np.asarray(edge_vec, np.float64)[a], np.asarray(edge_vec, np.float64)[b]
    cross = np.linalg.norm(np.cross(u, v), axis=1)
    return np.arctan2(cross, np.einsum("ij,ij->i", u, v))
