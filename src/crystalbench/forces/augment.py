"""Rotation augmentation: Haar-uniform random rotations of a frame and of its force labels.

ForceNet has no built-in rotation equivariance; it is meant to learn it from rotated copies
of the training data. A rotation R acts on Cartesian row vectors as x -> x R^T: positions,
cell vectors and forces all turn together, and every edge vector turns with them, while the
neighbour list (distances) does not change. So rotating a batch's edge vectors and force
labels is the same as rotating positions and cell and rebuilding the graph, without the
rebuild (tested). Applied to training batches only.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.transform import Rotation
from torch_geometric.data import Batch


def haar_rotations(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` rotation matrices drawn uniformly (Haar measure) from SO(3): shape (n, 3, 3).

    scipy samples uniform unit quaternions, which is the Haar measure on SO(3); an
    Euler-angle draw with uniform angles (ocp's RandomRotate) is not.
    """
    return Rotation.random(n, rng).as_matrix().reshape(n, 3, 3)


def rotate_frame(
    positions: np.ndarray, lattice: np.ndarray, forces: np.ndarray, rotation: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rotate positions, cell vectors (rows) and forces together: x -> x R^T."""
    r = np.asarray(rotation, np.float64)
    return positions @ r.T, lattice @ r.T, forces @ r.T


def rotate_batch(batch: Batch, rotations: torch.Tensor) -> Batch:
    """A copy of ``batch`` with every graph g turned by ``rotations[g]`` (edge vectors, forces).

    Edge vectors are differences of rotated positions, so they turn by the same R.
    """
    out = batch.clone()
    rot = rotations.to(batch.edge_vec.dtype)
    edge_graph = batch.batch[batch.edge_index[1]]
    out.edge_vec = torch.einsum("eij,ej->ei", rot[edge_graph], batch.edge_vec)
    out.forces = torch.einsum("nij,nj->ni", rot[batch.batch], batch.forces)
    return out
