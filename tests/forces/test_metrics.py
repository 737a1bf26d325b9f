"""S2EF metrics against hand-computed values; EFwT thresholds are strict and exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crystalbench.forces.metrics import (
    EFWT_ENERGY,
    EFWT_FORCE,
    atom_weights,
    energy_metrics,
    force_loss,
    force_metrics,
    max_force_error,
)

PRED = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [9.0, 9.0, 9.0]])
TRUE = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [3.0, 4.0, 0.0]])
FIXED = np.array([False, False, True])


def test_force_metrics_by_hand_on_free_atoms_only():
    m = force_metrics(PRED, TRUE, FIXED)
    # free atoms 0 and 1: component errors 1,0,0 and 0,1,0
    assert m["forces_mae"] == pytest.approx(2 / 6)
    assert m["forces_l2mae"] == pytest.approx(1.0)  # error vectors (1,0,0) and (0,1,0)
    # atom 0 has a zero label (cosine counted as 0), atom 1 is parallel (1)
    assert m["forces_cos"] == pytest.approx(0.5)
    # | |F_pred| - |F_true| |: |1 - 0| and |2 - 1|
    assert m["forces_magnitude"] == pytest.approx(1.0)
    # the fixed atom would change every number if it were scored
    assert force_metrics(PRED, TRUE, np.zeros(3, bool))["forces_mae"] != pytest.approx(2 / 6)


def test_cosine_of_opposite_and_orthogonal_forces():
    m = force_metrics(np.array([[1.0, 0, 0], [0, 1.0, 0]]), np.array([[-2.0, 0, 0], [3.0, 0, 0]]),
                      np.zeros(2, bool))
    assert m["forces_cos"] == pytest.approx(-0.5)


def test_no_free_atoms_is_an_error():
    with pytest.raises(ValueError, match="no free atoms"):
        force_metrics(PRED, TRUE, np.ones(3, bool))


def test_max_force_error_per_structure_ignores_fixed_atoms():
    graph = np.array([0, 0, 1])
    out = max_force_error(PRED, TRUE, FIXED, graph, 2)
    np.testing.assert_array_equal(out, [1.0, 0.0])  # structure 1 has only a fixed atom


def test_efwt_thresholds_are_strict_and_exact():
    below = np.nextafter(EFWT_ENERGY, 0)
    fbelow = np.nextafter(EFWT_FORCE, 0)
    true = np.zeros(4)
    pred = np.array([below, EFWT_ENERGY, below, 0.0])
    max_df = np.array([fbelow, 0.0, EFWT_FORCE, 0.0])
    m = energy_metrics(pred, true, max_df)
    # structure 0: both just inside; 1: energy exactly at 0.02; 2: force exactly at 0.03
    assert m["efwt"] == pytest.approx(2 / 4)
    assert m["energy_mae"] == pytest.approx((2 * below + EFWT_ENERGY) / 4)
    assert EFWT_ENERGY == 0.02 and EFWT_FORCE == 0.03


def test_tag_weights_and_fixed_atoms():
    tags = torch.tensor([0, 1, 2, -1, 0])
    fixed = torch.tensor([False, False, False, False, True])
    w = atom_weights(tags, fixed, (0.05, 1.0, 1.0))
    torch.testing.assert_close(w, torch.tensor([0.05, 1.0, 1.0, 1.0, 0.0]))


def test_force_loss_is_the_weighted_mean_error_norm():
    pred = torch.tensor([[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]])
    true = torch.zeros(2, 3)
    w = torch.tensor([1.0, 3.0])
    assert float(force_loss(pred, true, w)) == pytest.approx((5 * 1 + 1 * 3) / 4)
    with pytest.raises(ValueError, match="weight 0"):
        force_loss(pred, true, torch.zeros(2))
