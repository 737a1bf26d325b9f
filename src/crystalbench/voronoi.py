"""Periodic Voronoi neighbours with ridge areas (scipy's Qhull), exact by construction.

Two atoms are neighbours when their Voronoi cells share a face (a ridge); the face area is
kept as an edge feature and selects edges (``area > min_area``). The periodic tessellation is
computed on the atoms of the cell plus the periodic images in a padding window around them.
A window that is too small yields cells that are too large, so every result is certified:

1. no central cell may be open (a ridge with a vertex at infinity);
2. every vertex v of a central atom's cell is at distance rho(v) from that atom, and no atom
   of the infinite crystal may be closer to v than rho(v). If all vertices pass, each computed
   cell equals its true cell (a convex polytope whose vertices all lie in the true cell, and
   which contains it). Cheap sufficient case: the window reaches 2 * max rho beyond every atom.

On failure the window grows by half, never beyond that sufficient size. Ridges below
``AREA_FLOOR`` are contacts of co-spherical points (edges or corners shared by cells in
symmetric crystals): their area is set to exactly zero, so ``min_area=0`` selects the same
faces on symmetry-equivalent atoms.
"""

from __future__ import annotations

import itertools

import numpy as np
from pymatgen.optimization.neighbors import find_points_in_spheres
from scipy.spatial import QhullError, Voronoi

from crystalbench.neighbors import Edges

AREA_FLOOR = 1e-9  # Å²: smaller ridges are degenerate contacts, area 0
MIN_THICKNESS = 1.5  # Å: occupied thickness assumed for a flat layer when guessing the window
VERTEX_TOLERANCE = 1e-6  # Å: an atom this much closer to a vertex than its cell's atom fails it


def voronoi_edges(lattice: np.ndarray, frac: np.ndarray, min_area: float = 0.0) -> Edges:
    """Edges between atoms whose periodic Voronoi cells share a face of area > ``min_area``.

    Edges follow ``neighbors.Edges`` (source image -> target, sorted by target and distance)
    with the ridge area (Å²) in ``Edges.area``. Raises ValueError if Qhull fails.
    """
    lattice = np.asarray(lattice, dtype=np.float64)
    frac = np.asarray(frac, dtype=np.float64)
    if min_area < 0:
        raise ValueError(f"min_area must be >= 0, got {min_area}")
    wrapped, lo, hi, gap = compact_frame(frac)
    spacing = 1.0 / np.linalg.norm(np.linalg.inv(lattice), axis=0)  # between lattice planes
    pad = np.maximum(gap, initial_padding(lattice, spacing, lo, hi, len(frac)) / spacing)
    for _ in range(12):
        cells = central_cells(lattice, frac, wrapped, lo, hi, pad)
        if cells is None:  # a cell is open: too few images on some side
            pad = 2 * pad
            continue
        sufficient = 2 * cells.rho.max() / spacing * (1 + 1e-9)
        if np.all(pad >= sufficient) or cells.verified(lattice):
            return cells.edges(min_area)
        pad = np.maximum(pad, np.minimum(1.5 * pad, sufficient))
    raise ValueError("Voronoi cells did not close within a padding of "
                     f"{(pad * spacing).min():.1f} Å")


def compact_frame(frac: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Wrap coordinates so each direction's largest empty gap straddles the cell boundary.

    Returns (wrapped frac, lo, hi, gap): per direction the atoms occupy [lo, hi], and the
    images of the next cell begin ``gap`` beyond it (the vacuum of a slab, for instance).
    """
    w = frac % 1.0
    s = np.sort(w, axis=0)
    gaps = np.diff(np.vstack([s, s[:1] + 1.0]), axis=0)
    after_gap = (np.argmax(gaps, axis=0) + 1) % len(w)
    lo = s[after_gap, np.arange(3)]
    wrapped = lo + (w - lo) % 1.0
    return wrapped, wrapped.min(axis=0), wrapped.max(axis=0), gaps.max(axis=0)


def initial_padding(
    lattice: np.ndarray, spacing: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_atoms: int,
) -> float:
    """A window guess (Å): 3x the Wigner-Seitz radius of the occupied part of the cell.

    That covers twice the largest vertex distance of fcc, bcc and simple cubic cells (2.6-2.8
    Wigner-Seitz radii). Vacuum is left out of the volume, so a slab gets a window suited to
    its atoms' density; its vacuum-facing cells are then certified by the vertex check.
    ``spacing`` is the distance between lattice planes per direction.
    """
    thickness = np.minimum(np.maximum(hi - lo, MIN_THICKNESS / spacing), 1.0)
    volume = abs(np.linalg.det(lattice)) * float(np.prod(thickness))
    return 3.0 * (3.0 * volume / (4.0 * np.pi * n_atoms)) ** (1.0 / 3.0)


class CentralCells:
    """The Voronoi ridges of the atoms of the cell (the central points of the cloud)."""

    def __init__(self, vor: Voronoi, n_atoms: int, atom: np.ndarray, shift: np.ndarray,
                 ridges: np.ndarray, flat: np.ndarray, lengths: np.ndarray) -> None:
        self.vor, self.n, self.atom, self.shift = vor, n_atoms, atom, shift
        self.ridges, self.flat, self.lengths = ridges, flat, lengths
        # distance of each ridge vertex to the ridge's central atom
        ends = vor.ridge_points[ridges]
        centre = np.where(ends[:, 0] < n_atoms, ends[:, 0], ends[:, 1])
        points = vor.points[np.repeat(centre, lengths)]
        self.rho = np.linalg.norm(vor.vertices[flat] - points, axis=1)

    def verified(self, lattice: np.ndarray) -> bool:
        """True if no atom of the crystal is closer to any cell vertex than the cell's atom."""
        vertex = np.unique(self.flat)
        rho = np.zeros(len(vertex))
        np.maximum.at(rho, np.searchsorted(vertex, self.flat), self.rho)
        atoms = self.vor.points[: self.n]
        centre, _, _, dist = find_points_in_spheres(
            atoms, np.ascontiguousarray(self.vor.vertices[vertex]), float(rho.max()),
            np.ones(3, dtype=np.int64), lattice)
        return not np.any(dist < rho[centre] - VERTEX_TOLERANCE)

    def areas(self) -> np.ndarray:
        """Ridge areas from a fan of triangles over each face's ordered vertices (Qhull order)."""
        triangles = np.maximum(self.lengths - 2, 0)
        ridge = np.repeat(np.arange(len(self.lengths)), triangles)
        start = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])[ridge]
        j = np.arange(len(ridge)) - np.repeat(np.cumsum(triangles) - triangles, triangles) + 1
        v = self.vor.vertices
        a, b, c = v[self.flat[start]], v[self.flat[start + j]], v[self.flat[start + j + 1]]
        normal = np.zeros((len(self.lengths), 3))
        np.add.at(normal, ridge, np.cross(b - a, c - a))
        area = 0.5 * np.linalg.norm(normal, axis=1)
        area[area < AREA_FLOOR] = 0.0
        return area

    def edges(self, min_area: float) -> Edges:
        """Directed edges into every central atom, one per ridge end that is central."""
        area = self.areas()
        ends = self.vor.ridge_points[self.ridges]
        target = np.concatenate([ends[:, 0], ends[:, 1]])
        source = np.concatenate([ends[:, 1], ends[:, 0]])
        area = np.concatenate([area, area])
        keep = (target < self.n) & (area > min_area)
        target, source, area = target[keep], source[keep], area[keep]
        points = self.vor.points
        vec = points[target] - points[source]
        dist = np.linalg.norm(vec, axis=1)
        # the target's own wrap offset is removed so shifts refer to the input coordinates
        shift = self.shift[source] - self.shift[target]
        src = self.atom[source]
        order = np.lexsort((shift[:, 2], shift[:, 1], shift[:, 0], src, dist, target))
        return Edges(target[order], src[order], shift[order], vec[order], dist[order],
                     area[order])


def central_cells(
    lattice: np.ndarray, frac: np.ndarray, wrapped: np.ndarray, lo: np.ndarray,
    hi: np.ndarray, pad: np.ndarray,
) -> CentralCells | None:
    """Tessellate the atoms plus their images within ``pad`` (fractional) of [lo, hi].

    Returns None when a central cell is open (the window misses a side).
    """
    n = len(frac)
    reach = np.ceil(pad + (hi - lo)).astype(int)
    grid = np.stack(np.meshgrid(*[np.arange(-r, r + 1) for r in reach], indexing="ij"), -1)
    grid = grid.reshape(-1, 3)
    grid = grid[np.argsort(np.abs(grid).sum(axis=1), kind="stable")]  # zero shift first
    images = wrapped[None, :, :] + grid[:, None, :]
    inside = np.all((images >= lo - pad) & (images <= hi + pad), axis=2)
    inside[0] = True
    which_shift, atom = np.nonzero(inside)
    points = images[which_shift, atom] @ lattice
    # integer shift of every point relative to the input coordinates
    shift = (grid[which_shift] + np.round(wrapped - frac).astype(np.int64)[atom])
    try:
        vor = Voronoi(points)
    except QhullError as exc:
        raise ValueError(f"Qhull failed on {len(points)} points: {exc}") from exc
    ridges = np.flatnonzero((vor.ridge_points < n).any(axis=1))
    vertex_lists = [vor.ridge_vertices[r] for r in ridges]
    lengths = np.fromiter(map(len, vertex_lists), dtype=np.int64, count=len(ridges))
    flat = np.fromiter(itertools.chain.from_iterable(vertex_lists), dtype=np.int64,
                       count=int(lengths.sum()))
    if np.any(flat < 0):
        return None
    cells = CentralCells(vor, n, atom, shift, ridges, flat, lengths)
    # An empty sphere wider than the whole cloud touching a central atom means the cloud lies
    # on one side of that atom: its cell reaches out of the window (Qhull may close such a
    # cell with a vertex near infinity instead of an open ridge).
    if cells.rho.max() > np.linalg.norm(np.ptp(points, axis=0)):
        return None
    return cells
