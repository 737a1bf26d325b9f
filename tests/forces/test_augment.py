"""Rotation augmentation: Haar-uniform rotations that turn inputs and force labels together."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import add_adsorbate, fcc111
from scipy import stats
from torch_geometric.data import Batch, Data

from crystalbench.core.neighbors import radius_limited_edges
from crystalbench.forces.augment import haar_rotations, rotate_batch, rotate_frame
from crystalbench.forces.metrics import force_loss
from crystalbench.models.layers import scatter_sum


def slab(seed: int):
    atoms = fcc111("Cu", (2, 2, 3), vacuum=5.0)
    add_adsorbate(atoms, "O", 1.5, "fcc")
    atoms.rattle(0.05, seed=seed)
    return atoms


def graph(positions: np.ndarray, lattice: np.ndarray, forces: np.ndarray, z: np.ndarray):
    frac = positions @ np.linalg.inv(lattice)
    e = radius_limited_edges(lattice, frac, 6.0, 50)
    return e, Data(z=torch.tensor(z), edge_index=torch.tensor(np.stack([e.src, e.dst])),
                   edge_vec=torch.tensor(e.vec), forces=torch.tensor(forces),
                   num_nodes=len(z))


def test_rotations_are_proper_and_haar_distributed():
    r = haar_rotations(20000, np.random.default_rng(0))
    np.testing.assert_allclose(r @ r.transpose(0, 2, 1), np.broadcast_to(np.eye(3), r.shape),
                               atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)
    # Haar measure on SO(3): rotation angle density (1 - cos t) / pi, CDF (t - sin t) / pi
    angle = np.arccos(np.clip((np.trace(r, axis1=1, axis2=2) - 1) / 2, -1, 1))
    assert stats.kstest(angle, lambda t: (t - np.sin(t)) / np.pi).pvalue > 0.01
    # control: uniform angles about a uniform axis are not Haar, and the test sees it
    assert stats.kstest(np.random.default_rng(0).uniform(0, np.pi, 20000),
                        lambda t: (t - np.sin(t)) / np.pi).pvalue < 1e-6


def edge_keys(e) -> list[tuple[int, ...]]:
    return [(int(d), int(s), *map(int, sh)) for d, s, sh in zip(e.dst, e.src, e.shift,
                                                                 strict=True)]


def test_rotating_the_batch_equals_rotating_the_frame_and_rebuilding_the_graph():
    atoms = slab(1)
    pos, lat, z = atoms.positions, np.array(atoms.cell), atoms.numbers
    forces = np.random.default_rng(1).normal(size=pos.shape)
    edges, data = graph(pos, lat, forces, z)
    rot = haar_rotations(1, np.random.default_rng(2))[0]
    rpos, rlat, rforces = rotate_frame(pos, lat, forces, rot)
    redges, rdata = graph(rpos, rlat, rforces, z)
    batch = rotate_batch(Batch.from_data_list([data]), torch.tensor(rot)[None])
    # same neighbour list; match edges by (target, source, lattice image)
    key = {k: i for i, k in enumerate(edge_keys(edges))}
    order = [key[k] for k in edge_keys(redges)]
    assert sorted(order) == list(range(len(order)))
    torch.testing.assert_close(batch.edge_vec[order], rdata.edge_vec, atol=1e-9, rtol=0)
    torch.testing.assert_close(batch.forces, rdata.forces)


def pair_oracle(batch: Batch, strength: float) -> torch.Tensor:
    """An equivariant force field: a distance-dependent pair force along every edge."""
    d = torch.linalg.vector_norm(batch.edge_vec, dim=-1, keepdim=True)
    f = strength * torch.exp(-d) * batch.edge_vec / d
    return scatter_sum(f, batch.edge_index[1], batch.num_nodes)


def test_an_equivariant_oracle_has_the_same_loss_on_rotated_inputs_and_labels():
    datas = []
    for seed in range(3):
        atoms = slab(seed)
        forces = np.random.default_rng(seed).normal(size=atoms.positions.shape)
        datas.append(graph(atoms.positions, np.array(atoms.cell), forces, atoms.numbers)[1])
    batch = Batch.from_data_list(datas)
    labels_of = lambda b: pair_oracle(b, 2.0) + 0.1 * b.forces  # noqa: E731 - not the oracle
    w = torch.ones(batch.num_nodes, dtype=torch.float64)
    loss = force_loss(pair_oracle(batch, 1.0), labels_of(batch), w)
    rot = torch.tensor(haar_rotations(3, np.random.default_rng(7)))
    turned = rotate_batch(batch, rot)
    rotated_loss = force_loss(pair_oracle(turned, 1.0), labels_of(turned), w)
    assert float(loss) > 0.1
    assert float(rotated_loss) == pytest.approx(float(loss), rel=1e-10)
    # control: rotating the inputs but not the labels changes the loss
    stale = force_loss(pair_oracle(turned, 1.0), labels_of(batch), w)
    assert abs(float(stale) - float(loss)) > 1e-3
