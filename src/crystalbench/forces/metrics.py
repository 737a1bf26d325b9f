"""S2EF metrics on free atoms (OC20's evaluator definitions) and the tag-weighted force loss.

Forces are scored on atoms that are not fixed: a constrained atom's DFT force says nothing
about what the model must learn for a relaxation. Definitions:

- forces MAE: mean |ΔF| over the x, y, z components of free atoms (eV/Å);
- forces L2MAE: mean over free atoms of |F_pred - F_true| (Euclidean norm, eV/Å); unlike the
  component MAE it does not change when prediction and label turn together, so it is the
  fair yardstick on rotated copies;
- forces cosine: mean over free atoms of cos(F_pred, F_true) (a zero vector counts as 0);
- force magnitude error: mean | |F_pred| - |F_true| | over free atoms (eV/Å);
- energy MAE: mean |ΔE| per structure (eV);
- EFwT: fraction of structures with |ΔE| < 0.02 eV and max over free atoms and components
  of |ΔF| < 0.03 eV/Å, both strict (a structure without free atoms meets the force part).
"""

from __future__ import annotations

import numpy as np
import torch

EFWT_ENERGY = 0.02  # eV
EFWT_FORCE = 0.03  # eV/Å
# OC20's tag-specific weights (ocp fn_forceonly.yml): subsurface 0.05, surface 1, adsorbate 1;
# unknown tags (-1, e.g. trajectories written without tags) weigh 1: all atoms alike
DEFAULT_TAG_WEIGHTS = (0.05, 1.0, 1.0)


def force_metrics(pred: np.ndarray, true: np.ndarray, fixed: np.ndarray) -> dict[str, float]:
    """Forces MAE, L2MAE, cosine and magnitude error on free atoms."""
    free = ~np.asarray(fixed, bool)
    p, t = np.asarray(pred, np.float64)[free], np.asarray(true, np.float64)[free]
    if len(p) == 0:
        raise ValueError("no free atoms to score forces on")
    err = np.abs(p - t)
    norm_p, norm_t = np.linalg.norm(p, axis=1), np.linalg.norm(t, axis=1)
    denom = norm_p * norm_t
    cos = np.divide((p * t).sum(1), denom, out=np.zeros(len(p)), where=denom > 0)
    return {
        "forces_mae": float(err.mean()),
        "forces_l2mae": float(np.linalg.norm(p - t, axis=1).mean()),
        "forces_cos": float(cos.mean()),
        "forces_magnitude": float(np.abs(norm_p - norm_t).mean()),
    }


def max_force_error(
    pred: np.ndarray, true: np.ndarray, fixed: np.ndarray, graph_of_atom: np.ndarray,
    n_graphs: int,
) -> np.ndarray:
    """Per structure, the largest |ΔF| component over its free atoms (0 without free atoms)."""
    free = ~np.asarray(fixed, bool)
    err = np.abs(np.asarray(pred, np.float64) - np.asarray(true, np.float64)).max(axis=1)
    out = np.zeros(n_graphs)
    np.maximum.at(out, np.asarray(graph_of_atom)[free], err[free])
    return out


def energy_metrics(
    pred_energy: np.ndarray, true_energy: np.ndarray, max_force_err: np.ndarray,
) -> dict[str, float]:
    """Energy MAE and EFwT (both thresholds strict)."""
    de = np.abs(np.asarray(pred_energy, np.float64) - np.asarray(true_energy, np.float64))
    within = (de < EFWT_ENERGY) & (np.asarray(max_force_err) < EFWT_FORCE)
    return {"energy_mae": float(de.mean()), "efwt": float(within.mean())}


def atom_weights(
    tags: torch.Tensor, fixed: torch.Tensor, tag_weights: tuple[float, float, float],
) -> torch.Tensor:
    """Loss weight per atom: 0 for fixed atoms, else the weight of its tag (1 if unknown)."""
    table = torch.tensor([*tag_weights, 1.0], dtype=torch.float32, device=tags.device)
    w = table[torch.where(tags < 0, torch.full_like(tags, 3), tags)]
    return w * (~fixed).float()


def force_loss(
    pred: torch.Tensor, true: torch.Tensor, weights: torch.Tensor,
) -> torch.Tensor:
    """Weighted mean over atoms of the Euclidean norm of the force error (L2MAE).

    The per-atom norm, unlike an L1 over components, does not change when prediction and
    label are rotated together, so rotation augmentation cannot change the loss of an
    equivariant model.
    """
    total = weights.sum()
    if total <= 0:
        raise ValueError("every atom of the batch has loss weight 0 (all fixed?)")
    return (torch.linalg.vector_norm(pred - true, dim=-1) * weights).sum() / total
