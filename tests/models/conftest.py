import pytest

from crystalbench.symmetry import analyse_symmetry


@pytest.fixture(scope="session")
def everything(demo_structures, real_structures):
    """All 2,205 demo and real crystals with their symmetry, computed once per session."""
    structures = demo_structures + real_structures
    return structures, [analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
                        for s in structures]
