"""Element input features from pymatgen's element data (not a hand-typed table).

Columns: atomic mass, atomic radius, Pauling electronegativity, first ionisation energy
(each z-scored over the elements that have a value), then a multi-hot of pymatgen's
oxidation states. Fill: an element lacking a value (noble-gas electronegativity, radii and
ionisation energies of some heavy elements) gets the column mean, i.e. 0 after z-scoring.
Row 0 (no element) is all zeros.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
from pymatgen.core import Element

N_ELEMENTS = 118
CONTINUOUS = ("atomic_mass", "atomic_radius", "X", "ionization_energy")


def _value(element: Element, name: str) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = getattr(element, name)
        except (ValueError, KeyError, AttributeError):
            return float("nan")
    return float("nan") if value is None else float(value)


@lru_cache(maxsize=1)
def element_feature_table() -> np.ndarray:
    """(119, n_features) float32 table indexed by atomic number."""
    elements = [Element.from_Z(z) for z in range(1, N_ELEMENTS + 1)]
    continuous = np.array([[_value(e, name) for name in CONTINUOUS] for e in elements])
    mean = np.nanmean(continuous, axis=0)
    std = np.nanstd(continuous, axis=0)
    continuous = np.where(np.isnan(continuous), mean, continuous)
    continuous = (continuous - mean) / std
    states = sorted({s for e in elements for s in e.oxidation_states})
    multi_hot = np.array([[s in e.oxidation_states for s in states] for e in elements], float)
    table = np.concatenate([continuous, multi_hot], axis=1)
    return np.vstack([np.zeros((1, table.shape[1])), table]).astype(np.float32)
