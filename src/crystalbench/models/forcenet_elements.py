"""ForceNet's 9 physical element properties and the covalent radii of its edge features.

Built from pymatgen's element data and ASE's covalent radii (Cordero et al. 2008), not a
hand-typed table. Columns, in order (``FORCENET_PROPERTIES``): group, period (pymatgen row),
Pauling electronegativity, covalent radius (Å), valence electrons, first ionisation energy
(eV), electron affinity (eV), block (s, p, d, f -> 1..4), atomic volume (pymatgen molar
volume, cm³/mol; proportional to the volume per atom, and min-max scaling removes the unit).

Valence electrons are counted from pymatgen's electronic structure: the electrons outside
the noble-gas core, less those in filled d10 and f14 subshells (Fe 8, Cu 1, Zn 2, Lu 3,
Pd 0). Covalent radii exist for H-Cm (Z <= 96); ASE's 2.0 Å beyond is a placeholder, so it
counts as missing.

Each column is min-max scaled to [0, 1] over the elements that have a value. Fill: an
element without a value (noble-gas electronegativity, heavy-element volumes, affinities and
configurations, radii beyond Cm) gets the column mean of the scaled known values, as
``elements.py`` does. Row 0 (no element) is all zeros.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
from ase.data import covalent_radii
from pymatgen.core import Element

N_ELEMENTS = 118
LAST_COVALENT_RADIUS = 96  # Cm: Cordero et al. tabulate H-Cm
FORCENET_PROPERTIES = ("group", "period", "electronegativity", "covalent_radius",
                       "valence_electrons", "ionisation_energy", "electron_affinity",
                       "block", "atomic_volume")
BLOCKS = {"s": 1, "p": 2, "d": 3, "f": 4}


def _get(element: Element, name: str) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return getattr(element, name)
        except (ValueError, KeyError, AttributeError):
            return None


def _number(value: object) -> float:
    return float("nan") if value is None else float(value)


def valence_electrons(element: Element) -> float:
    """Electrons outside the noble-gas core, less filled d10/f14 subshells (nan if unknown)."""
    structure = _get(element, "electronic_structure")
    if structure is None:
        return float("nan")
    count = 0
    for part in str(structure).split("."):
        if part.startswith("["):
            continue
        shell, occupation = part[:2], int(part[2:])
        full = {"d": 10, "f": 14}.get(shell[1])
        count += 0 if occupation == full else occupation
    return float(count)


def _properties(z: int) -> list[float]:
    e = Element.from_Z(z)
    radius = float(covalent_radii[z]) if z <= LAST_COVALENT_RADIUS else float("nan")
    block = _get(e, "block")
    return [_number(_get(e, "group")), _number(_get(e, "row")), _number(_get(e, "X")), radius,
            valence_electrons(e), _number(_get(e, "ionization_energy")),
            _number(_get(e, "electron_affinity")),
            float(BLOCKS[block]) if block in BLOCKS else float("nan"),
            _number(_get(e, "molar_volume"))]


@lru_cache(maxsize=1)
def forcenet_element_table() -> np.ndarray:
    """(119, 9) float32, indexed by Z, each column min-max scaled to [0, 1] (fill: mean)."""
    raw = np.array([_properties(z) for z in range(1, N_ELEMENTS + 1)])
    low, high = np.nanmin(raw, axis=0), np.nanmax(raw, axis=0)
    scaled = (raw - low) / (high - low)
    scaled = np.where(np.isnan(scaled), np.nanmean(scaled, axis=0), scaled)
    return np.vstack([np.zeros((1, raw.shape[1])), scaled]).astype(np.float32)


@lru_cache(maxsize=1)
def covalent_radius_table() -> np.ndarray:
    """(119,) float32 covalent radius (Å) by Z; beyond Cm and row 0: the mean of H-Cm."""
    known = np.asarray(covalent_radii[1:LAST_COVALENT_RADIUS + 1], dtype=np.float64)
    table = np.full(N_ELEMENTS + 1, known.mean())
    table[1:LAST_COVALENT_RADIUS + 1] = known
    return table.astype(np.float32)
