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

from dataclasses import dataclass

import numpy as np

CLEAN_MARGIN = 4.0  # deviations within a factor of this of symprec are ambiguous
MAX_ATOMS = 256  # larger cells go to spglib: the atom mapping needs (operations, n, n) memory


@dataclass
class Operations:
    """Space-group operations of a primitive cell: x' = rotations[g] @ x + translations[g]."""

    rotations: np.ndarray  # (g, 3, 3) int
    translations: np.ndarray  # (g, 3) float, exact up to lattice vectors


def lattice_vectors_up_to(lattice: np.ndarray, radius: float) -> np.ndarray:
    """Integer coordinates (m, 3) of every lattice vector not longer than ``radius`` Å."""
    reach = np.floor(radius * np.linalg.norm(np.linalg.inv(lattice), axis=0) + 1e-9)
    axes = [np.arange(-r, r + 1) for r in reach.astype(np.int64)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    length = np.linalg.norm(grid @ lattice, axis=1)
    return grid[(length <= radius) & (length > 0)]


def metric_deviation(metric: np.ndarray, rotated: np.ndarray) -> np.ndarray:
    """spglib's lattice test as a distance (Å): length change, and angle change times length.

    ``metric`` (3, 3) and ``rotated`` (m, 3, 3) are metric tensors; a rotation passes
    spglib's test at ``symprec`` when its deviation is below ``symprec``.
    """
    j, k = np.array([0, 0, 1]), np.array([1, 2, 2])
    length = np.sqrt(np.diagonal(metric))
    rot_length = np.sqrt(np.diagonal(rotated, axis1=1, axis2=2))  # (m, 3)
    c1 = metric[j, k] / (length[j] * length[k])
    c2 = rotated[:, j, k] / (rot_length[:, j] * rot_length[:, k])
    x = c1 * c2 + np.sqrt(np.clip(1 - c1 * c1, 0, None) * np.clip(1 - c2 * c2, 0, None))
    mean2 = (length[j] + rot_length[:, j]) * (length[k] + rot_length[:, k]) / 4
    angle = np.sqrt(np.clip(1 - x * x, 0, None) * mean2)
    return np.maximum(np.abs(rot_length - length).max(axis=1), angle.max(axis=1))


def lattice_rotations(lattice: np.ndarray, loose: float) -> tuple[np.ndarray, np.ndarray]:
    """Candidate lattice rotations W (m, 3, 3) with their metric deviations (m,), Å.

    Columns of W are the images of the basis vectors: lattice vectors as long as their basis
    vector whose pairwise dot products match the metric (a generous prefilter, then spglib's
    test); all with deviation <= ``loose`` are returned.
    """
    metric = lattice @ lattice.T
    length = np.sqrt(np.diagonal(metric))
    vectors = lattice_vectors_up_to(lattice, length.max() + loose)
    vec_length = np.linalg.norm(vectors @ lattice, axis=1)
    columns = [vectors[np.abs(vec_length - length[i]) <= loose] for i in range(3)]

    def dots_match(j: int, k: int) -> np.ndarray:
        dots = columns[j] @ metric @ columns[k].T
        bound = 2 * loose * (length[j] + length[k]) + 2 * loose * loose
        return np.abs(dots - metric[j, k]) <= bound

    match = dots_match(0, 1)[:, :, None] & dots_match(0, 2)[:, None, :] & dots_match(1, 2)[None]
    i0, i1, i2 = np.nonzero(match)
    w = np.stack([columns[0][i0], columns[1][i1], columns[2][i2]], axis=2)  # (m, 3, 3)
    w = w[np.abs(np.round(np.linalg.det(w))) == 1]
    wf = w.astype(np.float64)
    rotated = wf.transpose(0, 2, 1) @ metric @ wf
    deviation = metric_deviation(metric, rotated)
    keep = deviation <= loose
    return w[keep].astype(np.int64), deviation[keep]


def wrapped_distance(diff: np.ndarray, lattice: np.ndarray) -> np.ndarray:
    """Cartesian length (Å) of fractional differences taken to the nearest lattice point."""
    cart = (diff - np.round(diff)) @ lattice
    return np.sqrt((cart * cart).sum(axis=-1))


def map_atoms(
    lattice: np.ndarray, frac: np.ndarray, numbers: np.ndarray,
    rotations: np.ndarray, translations: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply operations (m) to every atom: (largest displacement (m,), mapping (m, n), images).

    Atom i goes to the nearest atom of its species, ``mapping[g, i]``; the displacement (Å) is
    that distance, and ``images[g, i]`` is the operated position (m, n, 3), not yet wrapped.
    """
    images = (rotations @ frac.T).transpose(0, 2, 1) + translations[:, None, :]
    diff = images[:, :, None, :] - frac  # (m, n, n, 3)
    cart = (diff - np.round(diff)) @ lattice
    dist2 = (cart * cart).sum(axis=-1)  # squared: a root only for each operation's worst
    dist2[:, numbers[:, None] != numbers] = np.inf
    mapping = np.argmin(dist2, axis=2)
    nearest = dist2.reshape(-1, len(frac))[np.arange(mapping.size), mapping.ravel()]
    return np.sqrt(nearest.reshape(mapping.shape).max(axis=1)), mapping, images


def rarest_species(numbers: np.ndarray) -> np.ndarray:
    """Indices of the atoms of the species with the fewest atoms (the smaller Z on a tie)."""
    species, counts = np.unique(numbers, return_counts=True)
    return np.flatnonzero(numbers == species[np.argmin(counts)])


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


def product_table(rotations: np.ndarray) -> np.ndarray | None:
    """table[g, h] = index of rotations[g] @ rotations[h]; None if not a closed set of distinct
    matrices (or one with an entry too large to encode)."""
    if np.abs(rotations).max() >= 32:
        return None
    flat = rotations.astype(np.float64)
    encoded = flat @ ENCODER  # (g, 3): W_h v, which identifies W_h
    own = rotation_keys(encoded)
    order = np.argsort(own)
    if np.any(np.diff(own[order]) == 0):
        return None
    g = len(rotations)
    products = rotation_keys((flat.reshape(-1, 3) @ encoded.T).reshape(g, 3, g).transpose(0, 2, 1))
    at = np.minimum(np.searchsorted(own[order], products), g - 1)
    if not np.array_equal(own[order][at], products):
        return None
    return order[at]


def exact_translations(
    rotations: np.ndarray, translations: np.ndarray, table: np.ndarray, lattice: np.ndarray,
    tolerance: float,
) -> np.ndarray | None:
    """Translations adjusted (by at most the noise) so the operations compose exactly.

    The defect e(g, h) = t_g + W_g t_h - t_gh, minus its nearest lattice vector, is a real
    2-cocycle of a finite group and therefore the coboundary of s_g = mean_h e(g, h); the
    translations t_g - s_g compose exactly. None when a defect exceeds ``tolerance`` Å.
    """
    g = len(rotations)
    moved = (rotations.astype(np.float64).reshape(-1, 3) @ translations.T).reshape(g, 3, g)
    defect = translations[:, None, :] + moved.transpose(0, 2, 1) - translations[table]
    defect -= np.round(defect)
    if wrapped_distance(defect, lattice).max() > tolerance:
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
    # first the rarest species alone (every candidate maps it); an atom more only adds to a
    # deviation, so a candidate clearly rejected here is clearly rejected
    rare_dev = map_atoms(lattice, frac[rare], numbers[rare], rotations[which], translations)[0]
    deviation = np.maximum(rare_dev, lattice_dev[which])
    if is_ambiguous(deviation, symprec, margin):
        return None
    kept = deviation < symprec
    which, translations = which[kept], translations[kept]
    atom_dev = map_atoms(lattice, frac, numbers, rotations[which], translations)[0]
    deviation = np.maximum(atom_dev, lattice_dev[which])
    if is_ambiguous(deviation, symprec, margin):
        return None
    accepted = deviation < symprec
    rotations, translations = rotations[which[accepted]], translations[accepted]
    identity = np.all(rotations == np.eye(3, dtype=np.int64), axis=(1, 2))
    if np.count_nonzero(identity) != 1:
        return None  # a pure translation besides the identity: not a primitive cell
    table = product_table(rotations)
    if table is None:
        return None
    exact = exact_translations(rotations, translations, table, lattice, 2 * symprec)
    if exact is None:
        return None
    return Operations(rotations, exact - np.floor(exact + 1e-12))
