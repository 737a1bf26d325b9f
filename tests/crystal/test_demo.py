import numpy as np

from crystalbench.crystal.demo import demo_size, generate_demo_alloys
from crystalbench.crystal.structures import rejection_reason


def test_demo_is_deterministic(demo_structures):
    again = list(generate_demo_alloys(0))
    for a, b in zip(demo_structures, again, strict=True):
        assert a.id == b.id and a.target == b.target
        assert np.array_equal(a.frac_coords, b.frac_coords)
    other = list(generate_demo_alloys(1))
    assert any(a.target != b.target for a, b in zip(demo_structures, other, strict=True))


def test_demo_size_targets_and_validity(demo_structures):
    assert len(demo_structures) == demo_size()
    assert 250 <= len(demo_structures) <= 350
    assert all(np.isfinite(s.target) for s in demo_structures)
    assert all(rejection_reason(s) is None for s in demo_structures)
    assert len({s.extra["prototype"] for s in demo_structures}) >= 15
