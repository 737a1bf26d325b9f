"""A vectorised space-group operation search that is used only where its answer is unambiguous.

Why: spglib's every entry point (dataset, ``get_symmetry``, multiplicity, standardisation)
runs its full dataset determination, and that ends in the Wyckoff-letter assignment: for each
independent atom of the conventional cell and each Wyckoff position of the group, a double
loop over all pairs of the conventional cell's operations. For Fm-3m (192 operations, 12
Wyckoff positions) that is ~440,000 overlap checks, 9 ms of a 10 ms call on one fcc atom,
while a low-symmetry crystal costs 0.3 ms. ASU graphs need none of it: only the operations,
the orbits and the group's number.

What: for a primitive input cell, every lattice rotation ``W`` (integer, acting on column
fractional coordinates, ``W^T G W = G`` within tolerance) is paired with every translation
that sends a rarest-species atom onto an atom of its species, and each pair gets a deviation
(Å): the larger of spglib's lattice-metric deviation and the largest atom displacement. Pairs
below ``symprec`` are operations. The answer is accepted only when it is *clean*: no
deviation lies in ``[symprec / margin, symprec * margin]``, the input has no pure translation
within ``symprec * margin`` (a supercell), and the operations form a group. Then any search
with spglib's tolerance rules at ``symprec`` finds the same operations; otherwise the caller
asks spglib (a test checks the agreement on every real crystal we have).

Accepted translations are made exact (a group up to lattice vectors) by the averaging that
turns an approximate 1-cocycle of a finite group into an exact one, so that projecting the
cell onto the group gives exactly symmetric positions.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

CLEAN_MARGIN = 2.0  # deviations within a factor of this of symprec are ambiguous
MAX_ATOMS = 256  # larger cells go to spglib: the atom mapping needs (operations, n, n) memory
# candidates x atoms^2 up to which all atoms are mapped in one pass; above it the rarest
# species alone prefilters, which may refuse a few cells one pass would answer
ONE_PASS_SIZE = 3_000
IDENTITY = np.eye(3, dtype=np.int64).ravel()


@dataclass
class Operations:
    """Space-group operations of a primitive cell: x' = rotations[g] @ x + translations[g],
    in the order of their rotations' ``rotation_keys``."""

    rotations: np.ndarray  # (g, 3, 3) int
    translations: np.ndarray  # (g, 3) float, exact up to lattice vectors
    permutation: np.ndarray  # (g, n) int: the atom each atom goes to


@functools.lru_cache(maxsize=256)
def integer_box(reach: tuple[int, int, int]) -> np.ndarray:
    """Integer vectors (m, 3), as floats, with ``|n_i| <= reach[i]`` and not zero; cached,
    because a dataset's cells need only a few dozen distinct boxes."""
    axes = [np.arange(-r, r + 1, dtype=np.float64) for r in reach]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    grid = grid[np.any(grid != 0, axis=1)]
    grid.setflags(write=False)
    return grid


def lattice_vectors_up_to(metric: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Integer coordinates (m, 3), as floats, of a superset of the lattice vectors not longer
    than ``radius`` Å, with their lengths (m,). ``metric`` is the lattice's metric tensor."""
    (a, b, c), (_, d, e), (_, _, f) = metric.tolist()  # plain floats: numpy's per-call
    det = a * (d * f - e * e) - b * (b * f - c * e) + c * (b * e - c * d)  # cost dominates
    inverse_diagonal = ((d * f - e * e) / det, (a * f - c * c) / det, (a * d - b * b) / det)
    # |n_i| <= radius * |i-th reciprocal vector| for every lattice vector within radius
    reach = tuple(math.floor(radius * math.sqrt(x) + 1e-9) for x in inverse_diagonal)
    vectors = integer_box(reach)
    return vectors, np.sqrt(((vectors @ metric) * vectors).sum(axis=1))


def angle_deviations(
    metric: list[list[float]], length: list[float], dots: np.ndarray, vec_length: np.ndarray,
) -> np.ndarray:
    """spglib's angle test as a distance (Å), for the basis pairs (a,b), (a,c), (b,c) and
    every pair of candidate images (u, v): (3, s, s). ``dots`` (s, s) are the candidates' dot
    products, ``metric`` and ``length`` the basis's (plain floats).

    spglib compares the angle between basis vectors j and k with that between their images:
    the sine of the difference, times the mean of the lengths, may not exceed ``symprec``.
    """
    pairs = ((0, 1), (0, 2), (1, 2))
    c1 = np.array([metric[j][k] / (length[j] * length[k]) for j, k in pairs])[:, None, None]
    first = np.array([length[j] for j, _ in pairs])[:, None, None]
    second = np.array([length[k] for _, k in pairs])[:, None, None]
    c2 = dots / np.outer(vec_length, vec_length)
    x = c1 * c2 + np.sqrt(np.clip(1 - c1 * c1, 0, None) * np.clip(1 - c2 * c2, 0, None))
    mean2 = (first + vec_length[:, None]) * (second + vec_length) / 4
    return np.sqrt(np.clip(1 - x * x, 0, None) * mean2)


def lattice_rotations(lattice: np.ndarray, loose: float) -> tuple[np.ndarray, np.ndarray]:
    """Candidate lattice rotations W (m, 3, 3) with their metric deviations (m,), Å.

    Columns of W are the images of the basis vectors: lattice vectors as long as their basis
    vector (within ``loose``). A W's deviation is spglib's lattice test as a distance: the
    larger of its column length changes and its angle changes (``angle_deviations``); all
    with deviation <= ``loose`` are returned. Their determinants are not checked: a matrix
    that keeps the metric has determinant +-1, and a set with any other would not close
    under multiplication, which ``product_table`` refuses.
    """
    metric = lattice @ lattice.T
    g = metric.tolist()
    length = [math.sqrt(g[i][i]) for i in range(3)]
    vectors, vec_length = lattice_vectors_up_to(metric, max(length) + loose)
    # candidate images of each basis vector, one basis vector after the other (a lattice
    # vector may be a candidate for more than one)
    length_dev = np.abs(vec_length - np.array(length)[:, None])  # (3, m)
    basis, candidates = np.nonzero(length_dev <= loose)  # column by column
    n0, n1 = np.searchsorted(basis, [1, 2])
    images, dev = vectors[candidates], length_dev[basis, candidates]
    angle = angle_deviations(g, length, images @ metric @ images.T, vec_length[candidates])
    deviation = np.maximum(np.maximum(
        angle[0, :n0, n0:n1, None], angle[1, :n0, None, n1:]), angle[2, None, n0:n1, n1:])
    deviation = np.maximum(deviation, np.maximum.outer(np.maximum.outer(
        dev[:n0], dev[n0:n1]), dev[n1:]))
    i0, i1, i2 = np.nonzero(deviation <= loose)
    w = np.stack([images[i0], images[n0 + i1], images[n1 + i2]], axis=2)  # (m, 3, 3)
    return np.rint(w).astype(np.int64), deviation[i0, i1, i2]


def map_atoms(
    lattice: np.ndarray, frac: np.ndarray, numbers: np.ndarray,
    rotations: np.ndarray, translations: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply operations (m) to every atom: (largest displacement (m,), mapping (m, n)).

    Atom i goes to the nearest atom of its species, ``mapping[g, i]``; the displacement (Å) is
    that distance.
    """
    images = frac @ rotations.transpose(0, 2, 1) + translations[:, None, :]
    diff = images[:, :, None, :] - frac  # (m, n, n, 3)
    diff -= np.rint(diff)
    cart = diff.reshape(-1, 3) @ lattice  # one 2-D product: a stacked one is 3x slower
    cart *= cart
    dist2 = cart.sum(axis=1).reshape(diff.shape[:3])  # squared: one root per operation
    dist2 += np.where(numbers[:, None] == numbers, 0.0, np.inf)
    return np.sqrt(dist2.min(axis=2).max(axis=1)), np.argmin(dist2, axis=2)


def rarest_species(numbers: np.ndarray) -> np.ndarray:
    """Indices of the atoms of the species with the fewest atoms (the smaller Z on a tie)."""
    counts = np.bincount(numbers)
    return np.flatnonzero(numbers == np.where(counts > 0, counts, len(numbers) + 1).argmin())


def candidate_translations(
    frac: np.ndarray, rare: np.ndarray, rotations: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Translations sending the first ``rare`` atom onto each ``rare`` atom, per rotation.

    Returns (which rotation (c,), translation (c, 3)).
    """
    moved = rotations @ frac[rare[0]]  # (m, 3)
    t = frac[rare][None, :, :] - moved[:, None, :]  # (m, r, 3)
    which = np.repeat(np.arange(len(rotations)), len(rare))
    return which, (t - np.floor(t)).reshape(-1, 3)


def is_ambiguous(deviation: np.ndarray, symprec: float, margin: float) -> bool:
    return bool(np.any((deviation >= symprec / margin) & (deviation <= symprec * margin)))


def rotation_keys(rows: np.ndarray) -> np.ndarray:
    """One integer per matrix from ``rows`` (..., 3) = W @ (1, 2^6, 2^12), entries |W| < 32."""
    codes = np.round(rows).astype(np.int64) + (1 << 17)
    return codes[..., 0] + (codes[..., 1] << 18) + (codes[..., 2] << 36)


ENCODER = np.array([1.0, 64.0, 4096.0])


def product_table(rotations: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(order, table): ``rotations[order]`` is the set in its canonical order (ascending
    ``rotation_keys``), and ``table[g, h]`` is the position in that order of its g-th matrix
    times its h-th. None if not a closed set of distinct matrices (or one with an entry too
    large to encode)."""
    if np.abs(rotations).max() >= 32:
        return None
    flat = rotations.astype(np.float64)
    encoded = flat @ ENCODER  # (g, 3): W_h v, which identifies W_h
    own = rotation_keys(encoded)
    order = np.argsort(own)
    own, flat, encoded = own[order], flat[order], encoded[order]
    if np.any(own[1:] == own[:-1]):
        return None
    g = len(rotations)
    products = rotation_keys((flat.reshape(-1, 3) @ encoded.T).reshape(g, 3, g).transpose(0, 2, 1))
    at = np.minimum(np.searchsorted(own, products), g - 1)
    if not np.array_equal(own[at], products):
        return None
    return order, at


def exact_translations(
    rotations: np.ndarray, translations: np.ndarray, table: np.ndarray, lattice: np.ndarray,
    tolerance: float,
) -> np.ndarray | None:
    """Translations adjusted (by at most the noise) so the operations compose exactly.

    The defect e(g, h) = t_g + W_g t_h - t_gh, minus its nearest lattice vector, is a real
    2-cocycle of a finite group and therefore the coboundary of s_g = mean_h e(g, h); the
    translations t_g - s_g compose exactly. None when a defect exceeds ``tolerance`` Å.
    """
    moved = translations @ rotations.transpose(0, 2, 1)  # (g, h, 3): W_g t_h
    defect = moved + translations[:, None, :] - translations[table]
    defect -= np.rint(defect)
    cart = defect.reshape(-1, 3) @ lattice
    if (cart * cart).sum(axis=1).max() > tolerance * tolerance:
        return None
    return translations - defect.mean(axis=1)


def find_clean_operations(
    lattice: np.ndarray, frac: np.ndarray, numbers: np.ndarray, symprec: float,
    margin: float = CLEAN_MARGIN,
) -> Operations | None:
    """The space-group operations of a primitive cell, or None if the answer is ambiguous.

    None also for a supercell (a pure translation within ``symprec * margin``): spglib
    handles those. ``lattice`` rows are the lattice vectors, ``frac`` (n, 3).
    """
    if len(frac) > MAX_ATOMS:
        return None
    loose = symprec * margin
    rotations, lattice_dev = lattice_rotations(lattice, loose)
    rare = rarest_species(numbers)
    which, translations = candidate_translations(frac, rare, rotations)
    if len(which) * len(frac) ** 2 > ONE_PASS_SIZE:
        # first the rarest species alone (every candidate maps it); an atom more only adds to
        # a deviation, so a candidate clearly rejected here is clearly rejected
        rare_dev = map_atoms(lattice, frac[rare], numbers[rare], rotations[which],
                             translations)[0]
        deviation = np.maximum(rare_dev, lattice_dev[which])
        if is_ambiguous(deviation, symprec, margin):
            return None
        kept = deviation < symprec
        which, translations = which[kept], translations[kept]
    atom_dev, mapping = map_atoms(lattice, frac, numbers, rotations[which], translations)
    deviation = np.maximum(atom_dev, lattice_dev[which])
    if is_ambiguous(deviation, symprec, margin):
        return None
    accepted = deviation < symprec
    rotations = rotations[which[accepted]]
    identity = (rotations.reshape(-1, 9) == IDENTITY).all(axis=1)
    if np.count_nonzero(identity) != 1:
        return None  # a pure translation besides the identity: not a primitive cell
    closed = product_table(rotations)
    if closed is None:
        return None
    order, table = closed  # from here on, the operations in canonical order
    rotations = rotations[order]
    translations, mapping = translations[accepted][order], mapping[accepted][order]
    exact = exact_translations(rotations, translations, table, lattice, 2 * symprec)
    if exact is None:
        return None
    return Operations(rotations, exact - np.floor(exact + 1e-12), mapping)


def naming_key(ops: Operations) -> bytes | None:
    """A key under which spglib's name for ``ops`` can be remembered: the rotations (in their
    canonical order) and the translations after moving the origin to p = mean_h t_h.

    Moving the origin by p turns t_g into t_g + (W_g - I) p and leaves the space-group type
    alone. Summing t_gh = t_g + W_g t_h over h shows that after this shift every t_g is a
    multiple of 1/|G| (modulo lattice vectors), so the key is exact integers, and equal keys
    mean groups that are translates of one another: one type. The shift depends on how the
    translations were reduced into [0, 1), so two origins of one group can still get two keys
    (a second naming, never a wrong one): jdft2d's 549 clean crystals have 105 keys, against
    469 distinct operation sets. None if the translations are not exact.
    """
    rotations, translations, g = ops.rotations, ops.translations, len(ops.rotations)
    origin = translations.sum(axis=0) / g
    scaled = (translations + rotations @ origin - origin) * g
    numerators = np.round(scaled)
    if np.abs(scaled - numerators).max() > 1e-6:
        return None
    return rotations.tobytes() + (numerators.astype(np.int64) % g).tobytes()
