"""Periodic Voronoi neighbours with ridge areas (scipy's Qhull), exact by construction.

Two atoms are neighbours when their Voronoi cells share a face (a ridge); the face area is
kept as an edge feature and selects edges (``area > min_area``). The periodic tessellation is
computed on the atoms of the cell (the central points; for an ASU graph only the orbit
representatives) plus some of their periodic images.
Too few images yield cells that are too large, so every result is certified. The argument
rests on one fact: an image q cuts the cell C of atom p only if q lies in the ball around some
vertex v of C that has p on its surface (|q - v| < |p - v| = rho(v)), because
|x - q|^2 - |x - p|^2 is linear in x and so is negative somewhere on C only if it is negative at
a vertex. These balls make up the cell's *flower*.

1. The first cloud holds the images within ``FIRST_RADIUS`` Wigner-Seitz radii of an atom,
   with distances and the radius taken in the crystal whose empty gaps between atom planes
   are shrunk to ``KEPT_GAP`` (a slab then sees the slab across its vacuum as a neighbour).
   It grows by half while a central cell is open (a ridge with a vertex at infinity, or a
   vertex farther than the cloud is wide).
2. The computed cells contain the true cells. If no atom of the infinite crystal outside the
   cloud lies in a flower (closer to a vertex v than rho(v) by more than ``CUT_TOLERANCE``),
   they are the true cells.
3. Otherwise each true cell is its computed cell cut by the images in that cell's flower, so
   one more tessellation of the atoms plus every image in the flowers (``FLOWER_MARGIN``
   keeps those on a ball's surface) is exact, without another check. It is usually smaller
   than the first cloud: the flowers of nearly exact cells hold few atoms.

``CUT_TOLERANCE`` only absorbs rounding: where faces meet at shallow angles (cells reaching
into a vacuum), an atom 9e-7 Å inside a flower cuts off a face of 6e-6 Å² (mb-jdft2d-269).

Ridges below ``AREA_FLOOR`` are contacts of co-spherical points (edges or corners shared by
cells in symmetric crystals): their area is set to exactly zero, so ``min_area=0`` selects the
same faces on symmetry-equivalent atoms.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.spatial import QhullError, Voronoi

from crystalbench.core.neighbors import Edges

AREA_FLOOR = 1e-9  # Å²: smaller ridges are degenerate contacts, area 0
CUT_TOLERANCE = 1e-9  # Å: an atom this much closer to a vertex than the cell's atom cuts it
FLOWER_MARGIN = 1e-6  # Å added to the flower radii when collecting their images
FIRST_RADIUS = 3.0  # Wigner-Seitz radii (of the crystal with shrunk gaps) of the first cloud
KEPT_GAP = 3.0  # Å: empty gaps between atom planes wider than this are shrunk to it
MAX_GROWTH = 4  # tries with a first cloud half as large again before giving up
_KEY_BITS = 16  # bits per shift component in an image key


def voronoi_edges(
    lattice: np.ndarray, frac: np.ndarray, min_area: float = 0.0,
    centres: np.ndarray | None = None,
) -> Edges:
    """Edges between atoms whose periodic Voronoi cells share a face of area > ``min_area``.

    Edges follow ``neighbors.Edges`` (source image -> target, sorted by target and distance)
    with the ridge area (Å²) in ``Edges.area``. With ``centres`` (atom indices) only their
    cells are computed and certified, and only edges into them returned (an ASU graph's
    representatives). Raises ValueError if Qhull fails.
    """
    lattice = np.asarray(lattice, dtype=np.float64)
    frac = np.asarray(frac, dtype=np.float64)
    if min_area < 0:
        raise ValueError(f"min_area must be >= 0, got {min_area}")
    centres = np.arange(len(frac)) if centres is None else np.unique(centres)
    crystal = Crystal.of(lattice, frac)
    atom, shift, cells = first_cells(crystal, frac, centres)
    near, cuts = flower_images(crystal, cells)
    if not np.any(cuts & ~np.isin(near.key, image_key(atom, shift))):
        return cells.edges(min_area)
    atom, shift = with_central_atoms(centres, near.atom, near.shift)
    cells = central_cells(lattice, frac, crystal.wrapped, atom, shift, len(centres))
    if cells is None:  # cannot happen: the cells of step 1 close, and these lie inside them
        raise ValueError("Voronoi cells did not close on the images in their flowers")
    return cells.edges(min_area)


@dataclass(frozen=True)
class Crystal:
    """The atoms wrapped so that each direction's largest empty gap straddles the cell boundary.

    Per direction the atoms occupy [lo, hi] (fractional) and the images of the next cell begin
    ``gap`` beyond it (the vacuum of a slab, for instance). ``tri`` is an upper triangular
    factor of the metric (|f @ lattice| == |tri @ f|) for enumerating images in a sphere.
    """

    lattice: np.ndarray
    wrapped: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    gap: np.ndarray
    tri: np.ndarray
    inverse: np.ndarray

    @classmethod
    def of(cls, lattice: np.ndarray, frac: np.ndarray) -> Crystal:
        """Wrap ``frac`` into [lo, lo + 1) per direction, lo the atom after the largest gap."""
        w = frac % 1.0
        s = np.sort(w, axis=0)
        gaps = np.diff(np.vstack([s, s[:1] + 1.0]), axis=0)
        after_gap = (np.argmax(gaps, axis=0) + 1) % len(w)
        lo = s[after_gap, np.arange(3)]
        wrapped = lo + (w - lo) % 1.0
        return cls(lattice, wrapped, wrapped.min(axis=0), wrapped.max(axis=0),
                   gaps.max(axis=0), *metric(lattice))

    @property
    def spacing(self) -> np.ndarray:
        """Distance between lattice planes per direction (Å)."""
        return 1.0 / np.linalg.norm(self.inverse, axis=0)

    def shrunk(self) -> Crystal:
        """The same atoms with every gap wider than ``KEPT_GAP`` shrunk to it.

        Shrinking direction d scales lattice vector d by (1 - cut) and the fractional
        coordinates by 1 / (1 - cut): the atoms of a cell keep their positions, and the image
        with shift k lies as if k gaps of ``cut`` had been removed.
        """
        keep = 1.0 - np.maximum(self.gap - KEPT_GAP / self.spacing, 0.0)
        lattice = self.lattice * keep[:, None]
        return Crystal(lattice, self.wrapped / keep, self.lo / keep, self.hi / keep,
                       1.0 - (1.0 - self.gap) / keep, *metric(lattice))


def metric(lattice: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(tri, inverse): tri is upper triangular with |f @ lattice| == |tri @ f| for any f.

    tri is the transposed Cholesky factor of the metric lattice @ lattice.T; its last
    diagonal entry is the spacing of the third set of lattice planes.
    """
    return np.linalg.cholesky(lattice @ lattice.T).T, np.linalg.inv(lattice)


@dataclass(frozen=True)
class Images:
    """Periodic images (atom, integer shift of the wrapped atom) near a set of balls."""

    atom: np.ndarray
    shift: np.ndarray
    ball: np.ndarray  # index of the ball that holds the image
    dist: np.ndarray  # distance from the ball's centre (Å)

    @property
    def key(self) -> np.ndarray:
        return image_key(self.atom, self.shift)


def image_key(atom: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """One int64 per image, for set operations on images."""
    offset = 1 << (_KEY_BITS - 1)
    key = atom.astype(np.int64)
    for d in range(3):
        key = (key << _KEY_BITS) + (shift[:, d] + offset)
    return key


def integer_ranges(lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every integer in [lower_i, upper_i], as (i, value) pairs, in order of i."""
    first = np.ceil(lower).astype(np.int64)
    count = np.maximum(np.floor(upper).astype(np.int64) - first + 1, 0)
    owner = np.repeat(np.arange(len(count)), count)
    value = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count - first, count)
    return owner, value


def images_within(crystal: Crystal, centres: np.ndarray, radii: np.ndarray) -> Images:
    """All images within ``radii`` of ``centres`` (Cartesian), found row by row of ``tri``.

    With f = wrapped + shift - centre (fractional), the squared distance is |tri @ f|^2 and
    tri is upper triangular: its last row bounds the third shift; with that fixed, the middle
    row bounds the second; then the first row the first. Only images in the sphere's slices
    are generated.
    """
    t, w = crystal.tri, crystal.wrapped
    centre_frac = centres @ crystal.inverse
    ball, atom = np.divmod(np.arange(len(centres) * len(w)), len(w))
    reach = radii + 1e-9 * (1.0 + radii)  # a margin so that rounding loses no boundary image
    rest = reach[ball] ** 2  # squared radius left for the directions not yet fixed
    fixed: dict[int, np.ndarray] = {}  # fractional offsets f of the fixed directions
    shift: dict[int, np.ndarray] = {}
    for d in (2, 1, 0):
        row = sum((t[d, e] * f for e, f in fixed.items()), np.zeros(len(ball)))
        base = w[atom, d] - centre_frac[ball, d]
        half = np.sqrt(np.maximum(rest, 0.0))
        owner, k = integer_ranges((-half - row) / t[d, d] - base, (half - row) / t[d, d] - base)
        ball, atom = ball[owner], atom[owner]
        fixed = {e: f[owner] for e, f in fixed.items()}
        shift = {e: s[owner] for e, s in shift.items()}
        fixed[d], shift[d] = base[owner] + k, k
        rest = rest[owner] - (t[d, d] * fixed[d] + row[owner]) ** 2
    shifts = np.stack([shift[0], shift[1], shift[2]], axis=1)
    dist = np.linalg.norm((w[atom] + shifts) @ crystal.lattice - centres[ball], axis=1)
    keep = dist <= radii[ball]
    return Images(atom[keep], shifts[keep], ball[keep], dist[keep])


def flower_images(crystal: Crystal, cells: CentralCells) -> tuple[Images, np.ndarray]:
    """The images in the flowers of the cells, and which of them cut a cell (docstring)."""
    centres, rho = cells.vertex_balls()
    near = images_within(crystal, centres, rho + FLOWER_MARGIN)
    return near, near.dist < rho[near.ball] - CUT_TOLERANCE


def with_central_atoms(centres: np.ndarray, atom: np.ndarray, shift: np.ndarray,
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The central atoms (zero shift) first, then the other distinct images."""
    _, first = np.unique(image_key(atom, shift), return_index=True)
    atom, shift = atom[first], shift[first]
    other = np.any(shift != 0, axis=1) | ~np.isin(atom, centres)
    return (np.concatenate([centres, atom[other]]),
            np.concatenate([np.zeros((len(centres), 3), dtype=np.int64), shift[other]]))


def first_cells(crystal: Crystal, frac: np.ndarray, centres: np.ndarray,
                ) -> tuple[np.ndarray, np.ndarray, CentralCells]:
    """Tessellate the first cloud (module docstring, step 1), growing it until all cells close.

    Returns the cloud's atoms and shifts with its cells. A cloud too small to span 3D makes
    Qhull fail; that failure is retried with a larger cloud and reported on the last try.
    """
    shrunk = crystal.shrunk()
    n = len(frac)
    volume = abs(np.linalg.det(shrunk.lattice))
    radius = FIRST_RADIUS * (3.0 * volume / (4.0 * np.pi * n)) ** (1.0 / 3.0)
    around = shrunk.wrapped[centres] @ shrunk.lattice
    for attempt in range(MAX_GROWTH):
        if attempt:
            radius *= 1.5
        near = images_within(shrunk, around, np.full(len(centres), radius))
        atom, shift = with_central_atoms(centres, near.atom, near.shift)
        try:
            cells = central_cells(crystal.lattice, frac, crystal.wrapped, atom, shift,
                                  len(centres))
        except ValueError:
            if attempt == MAX_GROWTH - 1:
                raise
            cells = None
        if cells is not None:
            return atom, shift, cells
    raise ValueError(f"Voronoi cells did not close on the images within {radius:.1f} Å")


class CentralCells:
    """The Voronoi ridges of the central atoms (the first ``n_atoms`` points of the cloud)."""

    def __init__(self, vor: Voronoi, n_atoms: int, atom: np.ndarray, shift: np.ndarray,
                 ridges: np.ndarray, flat: np.ndarray, lengths: np.ndarray) -> None:
        self.vor, self.n, self.atom, self.shift = vor, n_atoms, atom, shift
        self.ridges, self.flat, self.lengths = ridges, flat, lengths
        # distance of each ridge vertex to the ridge's central atom
        ends = vor.ridge_points[ridges]
        centre = np.where(ends[:, 0] < n_atoms, ends[:, 0], ends[:, 1])
        points = vor.points[np.repeat(centre, lengths)]
        self.rho = np.linalg.norm(vor.vertices[flat] - points, axis=1)

    def vertex_balls(self) -> tuple[np.ndarray, np.ndarray]:
        """Each vertex of a central cell with its largest distance to a central atom."""
        vertex, which = np.unique(self.flat, return_inverse=True)
        rho = np.zeros(len(vertex))
        np.maximum.at(rho, which, self.rho)
        return self.vor.vertices[vertex], rho

    def areas(self) -> np.ndarray:
        """Ridge areas from a fan of triangles over each face's ordered vertices (Qhull order)."""
        triangles = np.maximum(self.lengths - 2, 0)
        ridge = np.repeat(np.arange(len(self.lengths)), triangles)
        start = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])[ridge]
        j = np.arange(len(ridge)) - np.repeat(np.cumsum(triangles) - triangles, triangles) + 1
        v = self.vor.vertices
        a, b, c = v[self.flat[start]], v[self.flat[start + j]], v[self.flat[start + j + 1]]
        u, w = b - a, c - a  # cross products written out: np.cross costs more than the rest
        cross = np.stack([u[:, 1] * w[:, 2] - u[:, 2] * w[:, 1],
                          u[:, 2] * w[:, 0] - u[:, 0] * w[:, 2],
                          u[:, 0] * w[:, 1] - u[:, 1] * w[:, 0]], axis=1)
        normal = np.stack([np.bincount(ridge, cross[:, d], len(self.lengths)) for d in range(3)],
                          axis=1)
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
        dst = self.atom[target]
        order = np.lexsort((shift[:, 2], shift[:, 1], shift[:, 0], src, dist, dst))
        return Edges(dst[order], src[order], shift[order], vec[order], dist[order],
                     area[order])


def central_cells(
    lattice: np.ndarray, frac: np.ndarray, wrapped: np.ndarray, atom: np.ndarray,
    shift: np.ndarray, n: int,
) -> CentralCells | None:
    """Tessellate the images ``wrapped[atom] + shift``; the first ``n`` are central.

    Returns None when a central cell is open (the images miss a side).
    """
    points = (wrapped[atom] + shift) @ lattice
    # integer shift of every point relative to the input coordinates
    input_shift = shift + np.round(wrapped - frac).astype(np.int64)[atom]
    try:
        vor = Voronoi(points)
    except QhullError as exc:
        raise ValueError(f"Qhull failed on {len(points)} points: {exc}") from exc
    ridges = np.flatnonzero((vor.ridge_points < n).any(axis=1))
    vertex_lists = [vor.ridge_vertices[r] for r in ridges]
    lengths = np.fromiter(map(len, vertex_lists), dtype=np.int64, count=len(ridges))
    flat = np.fromiter(itertools.chain.from_iterable(vertex_lists), dtype=np.int64,
                       count=int(lengths.sum()))
    ends = vor.ridge_points[ridges]
    has_ridge = np.zeros(n, dtype=bool)
    has_ridge[ends[ends < n]] = True
    if np.any(flat < 0) or not has_ridge.all():  # open, or an atom lacks a cell
        return None
    cells = CentralCells(vor, n, atom, input_shift, ridges, flat, lengths)
    # An empty sphere wider than the whole cloud touching a central atom means the cloud lies
    # on one side of that atom: its cell reaches out of the cloud (Qhull may close such a
    # cell with a vertex near infinity instead of an open ridge).
    if cells.rho.max() > np.linalg.norm(np.ptp(points, axis=0)):
        return None
    return cells
