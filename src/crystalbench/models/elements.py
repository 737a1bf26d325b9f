"""Element input features of the atom embedding, from one of two element tables.

``reference``: the table of kgcnn's coGN/coNGN (PubChem's periodic table, shipped here as
``data/pubchem_elements.csv``): atomic mass, van der Waals radius, electronegativity and first
ionisation energy (kgcnn's column order: mass, radius, electronegativity,
ionisation energy), a missing value filled with kgcnn's fixed values (radius 209.46 pm,
electronegativity 1.18, ionisation energy 8 eV), each column z-scored with the sample standard
deviation (ddof 1) over the 118 elements; then PubChem's common oxidation states as a 14-column
multi-hot, one column per state from -4 to +9 (column (state + 7) mod 14, kgcnn's layout).

``pymatgen``: pymatgen's element data: atomic mass, empirical atomic radius, Pauling
electronegativity and first ionisation energy, a missing value filled with the column mean,
z-scored with ddof 0; then a multi-hot of every oxidation state pymatgen lists.

Row 0 (no element) is all zeros in both, so the tables are indexed by atomic number.
"""

from __future__ import annotations

import csv
import importlib.resources
import warnings
from functools import lru_cache

import numpy as np
from pymatgen.core import Element

N_ELEMENTS = 118
ELEMENT_TABLES = ("reference", "pymatgen")
CONTINUOUS = ("atomic_mass", "atomic_radius", "X", "ionization_energy")  # pymatgen's names
REFERENCE_CONTINUOUS = ("atomic_mass", "vdw_radius_pm", "electronegativity",
                        "ionization_energy_ev")  # kgcnn's column order
REFERENCE_FILL = {"electronegativity": 1.18, "vdw_radius_pm": 209.46,
                  "ionization_energy_ev": 8.0}
REFERENCE_STATES = 14  # oxidation states -4..+9, column (state + 7) mod 14


def _value(element: Element, name: str) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = getattr(element, name)
        except (ValueError, KeyError, AttributeError):
            return float("nan")
    return float("nan") if value is None else float(value)


def _with_empty_row(table: np.ndarray) -> np.ndarray:
    return np.vstack([np.zeros((1, table.shape[1])), table]).astype(np.float32)


def pymatgen_table() -> np.ndarray:
    """(119, 4 + n_states) table from pymatgen's element data (mean fill, ddof 0)."""
    elements = [Element.from_Z(z) for z in range(1, N_ELEMENTS + 1)]
    continuous = np.array([[_value(e, name) for name in CONTINUOUS] for e in elements])
    mean = np.nanmean(continuous, axis=0)
    std = np.nanstd(continuous, axis=0)
    continuous = np.where(np.isnan(continuous), mean, continuous)
    continuous = (continuous - mean) / std
    states = sorted({s for e in elements for s in e.oxidation_states})
    multi_hot = np.array([[s in e.oxidation_states for s in states] for e in elements], float)
    return _with_empty_row(np.concatenate([continuous, multi_hot], axis=1))


def read_pubchem_elements() -> list[dict[str, str]]:
    """The rows of the shipped PubChem element table, in atomic-number order."""
    text = (importlib.resources.files("crystalbench.models") / "data" / "pubchem_elements.csv"
            ).read_text()
    rows = list(csv.DictReader(text.splitlines()))
    if [int(r["z"]) for r in rows] != list(range(1, N_ELEMENTS + 1)):
        raise ValueError("pubchem_elements.csv must list Z = 1..118 in order")
    return rows


def reference_table() -> np.ndarray:
    """(119, 18) table equal to kgcnn's coGN element features (fixed fill, ddof 1)."""
    rows = read_pubchem_elements()
    columns = []
    for name in REFERENCE_CONTINUOUS:
        fill = REFERENCE_FILL.get(name, float("nan"))
        values = np.array([float(r[name]) if r[name] else fill for r in rows])
        columns.append((values - values.mean()) / values.std(ddof=1))
    multi_hot = np.zeros((N_ELEMENTS, REFERENCE_STATES))
    for i, row in enumerate(rows):
        for state in row["oxidation_states"].split():
            multi_hot[i, (int(state) + 7) % REFERENCE_STATES] = 1.0
    return _with_empty_row(np.concatenate([np.stack(columns, axis=1), multi_hot], axis=1))


@lru_cache(maxsize=len(ELEMENT_TABLES))
def element_feature_table(source: str = "pymatgen") -> np.ndarray:
    """(119, n_features) float32 table indexed by atomic number; ``source`` names the table."""
    if source == "reference":
        return reference_table()
    if source == "pymatgen":
        return pymatgen_table()
    raise ValueError(f"unknown element table {source!r}; options: {', '.join(ELEMENT_TABLES)}")
