"""The offline demo dataset ``demo_alloys``: ordered EMT-metal crystals labelled with EMT.

Deterministic for a given seed. It covers cubic, hexagonal, tetragonal, trigonal and
lower-symmetry cells, centred lattices in primitive and conventional settings, 2D slabs with
vacuum, randomly substituted supercells and rattled cells, so that the ASU machinery meets the
same variety as on MatBench. The target is ASE's EMT energy per atom (eV/atom).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import numpy as np
from ase import Atoms
from ase.build import bulk, fcc100, fcc111
from ase.calculators.emt import EMT
from ase.data import atomic_numbers

from crystalbench.crystal.structures import Structure

log = logging.getLogger(__name__)

# fcc lattice constants (Å) of the metals ASE's EMT is parametrised for
FCC_A = {"Al": 4.05, "Cu": 3.61, "Ag": 4.09, "Au": 4.08, "Ni": 3.52, "Pd": 3.89, "Pt": 3.92}
METALS = sorted(FCC_A)
LIGHT = ["H", "C", "N", "O"]  # EMT also has (rough) parameters for these

Builder = Callable[[np.random.Generator], Atoms]


def _pick(rng: np.random.Generator, n: int) -> list[str]:
    return [str(e) for e in rng.choice(METALS, size=n, replace=False)]


def _a(elements: list[str], rng: np.random.Generator) -> float:
    """Vegard-averaged fcc lattice constant with a random strain of up to ±3 %."""
    metals = [e for e in elements if e in FCC_A]
    return float(np.mean([FCC_A[e] for e in metals]) * rng.uniform(0.97, 1.03))


def _cubic(symbols: list[str], frac: list[list[float]], a: float) -> Atoms:
    return Atoms(symbols, scaled_positions=frac, cell=np.eye(3) * a, pbc=True)


def fcc_prim(rng: np.random.Generator) -> Atoms:
    (e,) = _pick(rng, 1)
    return bulk(e, "fcc", a=_a([e], rng))


def fcc_conv(rng: np.random.Generator) -> Atoms:
    (e,) = _pick(rng, 1)
    return bulk(e, "fcc", a=_a([e], rng), cubic=True)


def bcc_prim(rng: np.random.Generator) -> Atoms:
    (e,) = _pick(rng, 1)
    return bulk(e, "bcc", a=_a([e], rng) / 2 ** (1 / 3))


def hcp(rng: np.random.Generator) -> Atoms:
    (e,) = _pick(rng, 1)
    a = _a([e], rng) / np.sqrt(2)
    return bulk(e, "hcp", a=a, c=a * rng.uniform(1.58, 1.68))


def simple_cubic(rng: np.random.Generator) -> Atoms:
    (e,) = _pick(rng, 1)
    return bulk(e, "sc", a=_a([e], rng) / 4 ** (1 / 3))


def diamond(rng: np.random.Generator) -> Atoms:
    (e,) = _pick(rng, 1)
    return bulk(e, "diamond", a=_a([e], rng) * 4 / np.sqrt(6))


def zincblende(rng: np.random.Generator) -> Atoms:
    a, b = _pick(rng, 2)
    return bulk(a + b, "zincblende", a=_a([a, b], rng) * 4 / np.sqrt(6))


def wurtzite(rng: np.random.Generator) -> Atoms:
    a, b = _pick(rng, 2)
    lat = _a([a, b], rng) * np.sqrt(4 / 3)  # nearest-neighbour distance equals fcc's
    return bulk(a + b, "wurtzite", a=lat, c=lat * np.sqrt(8 / 3))


def rocksalt(rng: np.random.Generator) -> Atoms:
    (m,) = _pick(rng, 1)
    x = str(rng.choice(LIGHT))
    return bulk(m + x, "rocksalt", a=_a([m], rng) * 1.1)


def b2(rng: np.random.Generator) -> Atoms:
    a, b = _pick(rng, 2)
    return _cubic([a, b], [[0, 0, 0], [0.5, 0.5, 0.5]], _a([a, b], rng) / 2 ** (1 / 3))


def l12(rng: np.random.Generator) -> Atoms:
    a, b = _pick(rng, 2)
    frac = [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]
    return _cubic([b, a, a, a], frac, _a([a, a, a, b], rng))


def l10(rng: np.random.Generator) -> Atoms:
    a, b = _pick(rng, 2)
    lat = _a([a, b], rng) / np.sqrt(2)
    c = lat * np.sqrt(2) * rng.uniform(0.92, 0.98)
    return Atoms([a, b], scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5]],
                 cell=np.diag([lat, lat, c]), pbc=True)


def l11(rng: np.random.Generator) -> Atoms:
    """CuPt-type ordering: alternating (111) planes, rhombohedral cell of 2 atoms."""
    a, b = _pick(rng, 2)
    lat = _a([a, b], rng)
    cell = lat * np.array([[1.0, 0.5, 0.5], [0.5, 1.0, 0.5], [0.5, 0.5, 1.0]])
    return Atoms([a, b], scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5]], cell=cell, pbc=True)


def heusler(rng: np.random.Generator) -> Atoms:
    """Full-Heusler L2_1 X2YZ in the primitive fcc cell (4 atoms)."""
    x, y, z = _pick(rng, 3)
    lat = _a([x, x, y, z], rng) * 2 / 2 ** (1 / 3)
    cell = lat / 2 * np.array([[0.0, 1, 1], [1, 0, 1], [1, 1, 0]])
    frac = [[0, 0, 0], [0.25, 0.25, 0.25], [0.5, 0.5, 0.5], [0.75, 0.75, 0.75]]
    return Atoms([y, x, z, x], scaled_positions=frac, cell=cell, pbc=True)


def perovskite(rng: np.random.Generator) -> Atoms:
    a, b = _pick(rng, 2)
    x = str(rng.choice(["O", "N"]))
    frac = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return _cubic([a, b, x, x, x], frac, _a([a, b], rng) * 1.0)


def d022(rng: np.random.Generator) -> Atoms:
    """Al3Ti-type A3B, body-centred tetragonal (I4/mmm), conventional cell of 8 atoms."""
    a, b = _pick(rng, 2)
    lat = _a([a, a, a, b], rng)
    frac = [[0, 0, 0], [0.5, 0.5, 0.5], [0, 0.5, 0.25], [0.5, 0, 0.25], [0, 0.5, 0.75],
            [0.5, 0, 0.75], [0.5, 0.5, 0], [0, 0, 0.5]]
    return Atoms([b, b, a, a, a, a, a, a], scaled_positions=frac,
                 cell=np.diag([lat, lat, 2 * lat]), pbc=True)


def bct(rng: np.random.Generator) -> Atoms:
    """fcc under tetragonal strain along z, kept in the primitive centred cell."""
    atoms = fcc_prim(rng)
    atoms.set_cell(atoms.cell[:] @ np.diag([1, 1, rng.uniform(1.04, 1.10)]), scale_atoms=True)
    return atoms


def orthorhombic_l12(rng: np.random.Generator) -> Atoms:
    atoms = l12(rng)
    strain = np.diag([1.0, rng.uniform(1.02, 1.05), rng.uniform(0.95, 0.98)])
    atoms.set_cell(atoms.cell[:] @ strain, scale_atoms=True)
    return atoms


def monoclinic_hcp(rng: np.random.Generator) -> Atoms:
    atoms = hcp(rng)
    shear = np.eye(3)
    shear[2, 0] = rng.uniform(0.05, 0.12)
    atoms.set_cell(atoms.cell[:] @ shear, scale_atoms=True)
    return atoms


def slab111(rng: np.random.Generator) -> Atoms:
    (e,) = _pick(rng, 1)
    atoms = fcc111(e, size=(1, 1, int(rng.integers(3, 6))), a=_a([e], rng), vacuum=6.0)
    atoms.pbc = True
    return atoms


def slab100(rng: np.random.Generator) -> Atoms:
    a, b = _pick(rng, 2)
    atoms = fcc100(a, size=(1, 1, int(rng.integers(3, 6))), a=_a([a, b], rng), vacuum=6.0)
    atoms.pbc = True
    symbols = atoms.get_chemical_symbols()
    atoms.set_chemical_symbols([b if i % 2 else s for i, s in enumerate(symbols)])
    return atoms


def substituted_supercell(rng: np.random.Generator) -> Atoms:
    """A 2x2x2 fcc or bcc supercell with a random binary occupation (mostly low symmetry)."""
    a, b = _pick(rng, 2)
    kind = "fcc" if rng.random() < 0.5 else "bcc"
    lat = _a([a, b], rng) / (1 if kind == "fcc" else 2 ** (1 / 3))
    atoms = bulk(a, kind, a=lat).repeat((2, 2, 2))
    n_b = int(rng.integers(1, len(atoms)))
    symbols = np.array([a] * len(atoms))
    symbols[rng.choice(len(atoms), size=n_b, replace=False)] = b
    atoms.set_chemical_symbols(symbols.tolist())
    return atoms


def rattled(rng: np.random.Generator) -> Atoms:
    """An ordered cell with every atom displaced by ~0.05 Å: space group P1."""
    builders = [l12, b2, heusler, d022]
    atoms = builders[int(rng.integers(len(builders)))](rng)
    atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
    return atoms


PROTOTYPES: dict[str, tuple[Builder, int]] = {
    "fcc-primitive": (fcc_prim, 12),
    "fcc-conventional": (fcc_conv, 10),
    "bcc-primitive": (bcc_prim, 12),
    "hcp": (hcp, 14),
    "simple-cubic": (simple_cubic, 8),
    "diamond": (diamond, 8),
    "zincblende": (zincblende, 14),
    "wurtzite": (wurtzite, 14),
    "rocksalt": (rocksalt, 14),
    "B2": (b2, 18),
    "L1_2": (l12, 18),
    "L1_0": (l10, 16),
    "L1_1": (l11, 14),
    "L2_1-heusler": (heusler, 16),
    "perovskite": (perovskite, 14),
    "D0_22": (d022, 12),
    "bct-strained-fcc": (bct, 10),
    "orthorhombic-L1_2": (orthorhombic_l12, 12),
    "monoclinic-hcp": (monoclinic_hcp, 10),
    "slab-fcc111": (slab111, 10),
    "slab-fcc100": (slab100, 10),
    "substituted-supercell": (substituted_supercell, 24),
    "rattled": (rattled, 14),
}


def demo_size() -> int:
    """Number of structures the generator yields."""
    return sum(n for _, n in PROTOTYPES.values())


def generate_demo_alloys(seed: int = 0) -> Iterator[Structure]:
    """Yield the demo structures with their EMT energy per atom, deterministically."""
    rng = np.random.default_rng(seed)
    calc = EMT()
    index = 0
    total = demo_size()
    for name, (builder, count) in PROTOTYPES.items():
        for _ in range(count):
            atoms = builder(rng)
            atoms.calc = calc
            energy = float(atoms.get_potential_energy()) / len(atoms)
            index += 1
            if index % 50 == 0 or index == total:
                log.info("demo_alloys: %d/%d structures labelled", index, total)
            yield Structure(
                id=f"demo-{index:04d}",
                lattice=np.array(atoms.cell[:], dtype=np.float64),
                frac_coords=atoms.get_scaled_positions(wrap=True),
                atomic_numbers=np.array([atomic_numbers[s] for s in atoms.get_chemical_symbols()]),
                target=energy,
                extra={"prototype": name, "formula": atoms.get_chemical_formula()},
            )
