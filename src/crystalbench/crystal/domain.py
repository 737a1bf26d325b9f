"""What a trained model has seen, so that a prediction outside it says so: the elements of
its training structures and their range of atoms per cell. Stored in ``checkpoint.pt`` by
training and checked per structure by ``predict``."""

from __future__ import annotations

from typing import Any

import numpy as np

from crystalbench.core.graph_contract import GraphTable
from crystalbench.crystal.structures import Structure

# a cell this many times larger (or smaller) than any training cell is "far outside"
SIZE_FACTOR = 2.0


def training_domain(table: GraphTable, idx: np.ndarray) -> dict[str, Any]:
    """Elements (atomic numbers) and atoms per cell of the graphs ``idx`` of ``table``."""
    sizes = table.sizes("node")
    graph_of_node = np.repeat(np.arange(len(sizes)), sizes)
    chosen = np.isin(graph_of_node, idx)
    elements = np.unique(np.asarray(table.column("atomic_numbers"))[chosen])
    atoms = np.bincount(graph_of_node[chosen],
                        weights=np.asarray(table.column("multiplicity"))[chosen],
                        minlength=len(sizes))[idx]
    return {"elements": [int(z) for z in elements],
            "atoms_per_cell": [int(atoms.min()), int(atoms.max())]}


def domain_warnings(structure: Structure, domain: dict[str, Any]) -> list[str]:
    """Why a prediction for ``structure`` extrapolates beyond ``domain``; empty if it does
    not."""
    from pymatgen.core.periodic_table import Element

    found = []
    unseen = sorted(set(int(z) for z in structure.atomic_numbers) - set(domain["elements"]))
    if unseen:
        names = ", ".join(Element.from_Z(z).symbol for z in unseen)
        found.append(f"elements absent from training: {names}")
    n, (low, high) = len(structure.atomic_numbers), domain["atoms_per_cell"]
    if n > SIZE_FACTOR * high or n < low / SIZE_FACTOR:
        found.append(f"{n} atoms per cell, training had {low}-{high}")
    return found
