import numpy as np
from pymatgen.core import Element

from crystalbench.models.elements import CONTINUOUS, element_feature_table


def test_table_shape_and_fill():
    table = element_feature_table()
    assert table.shape[0] == 119 and np.isfinite(table).all()
    assert (table[0] == 0).all()
    continuous = table[1:, : len(CONTINUOUS)]
    assert np.allclose(continuous.mean(axis=0), 0, atol=0.1)


def test_values_come_from_pymatgen():
    table = element_feature_table()
    masses = np.array([float(Element.from_Z(z).atomic_mass) for z in range(1, 119)])
    z_scored = (masses - masses.mean()) / masses.std()
    assert np.allclose(table[1:, 0], z_scored, atol=1e-5)
    oxygen = table[8, len(CONTINUOUS):]
    assert oxygen.sum() == len(Element("O").oxidation_states)
