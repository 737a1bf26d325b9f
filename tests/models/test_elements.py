import numpy as np
import pytest
from pymatgen.core import Element

from crystalbench.models.elements import (
    CONTINUOUS,
    REFERENCE_FILL,
    element_feature_table,
    read_pubchem_elements,
)


@pytest.mark.parametrize("source", ["reference", "pymatgen"])
def test_table_shape_and_fill(source):
    table = element_feature_table(source)
    assert table.shape[0] == 119 and np.isfinite(table).all()
    assert (table[0] == 0).all()
    continuous = table[1:, :4]
    assert np.allclose(continuous.mean(axis=0), 0, atol=0.1)


def test_values_come_from_pymatgen():
    table = element_feature_table("pymatgen")
    masses = np.array([float(Element.from_Z(z).atomic_mass) for z in range(1, 119)])
    z_scored = (masses - masses.mean()) / masses.std()
    assert np.allclose(table[1:, 0], z_scored, atol=1e-5)
    oxygen = table[8, len(CONTINUOUS):]
    assert oxygen.sum() == len(Element("O").oxidation_states)


def test_reference_table_follows_kgcnns_layout():
    """kgcnn's table: mass, van der Waals radius, electronegativity, ionisation energy, each
    z-scored with ddof 1 after the fixed fills; 14 oxidation-state columns, (state + 7) % 14."""
    rows = read_pubchem_elements()
    table = element_feature_table("reference")
    assert table.shape == (119, 18)
    radius = np.array([float(r["vdw_radius_pm"]) if r["vdw_radius_pm"]
                       else REFERENCE_FILL["vdw_radius_pm"] for r in rows])
    assert np.allclose(table[1:, 1], (radius - radius.mean()) / radius.std(ddof=1), atol=1e-6)
    helium_x = (1.18 - np.mean([float(r["electronegativity"] or 1.18) for r in rows]))
    assert table[2, 2] == pytest.approx(helium_x / np.std(
        [float(r["electronegativity"] or 1.18) for r in rows], ddof=1), abs=1e-6)
    assert rows[0]["oxidation_states"] == "1 -1"  # hydrogen: +1 and -1
    states = table[1, 4:]
    assert states.sum() == 2 and states[8] == 1 and states[6] == 1  # (1+7)%14, (-1+7)%14
    assert (table[113, 4:] == 0).all()  # Nh: PubChem lists no oxidation state
