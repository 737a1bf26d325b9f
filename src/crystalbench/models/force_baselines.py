"""SchNet and DimeNet++ with direct force heads: the equivariant baselines for ForceNet.

Both reuse the crystal models' trunks unchanged and add one head: a rotation-invariant
scalar per edge times the edge's unit vector, summed into the target,
F_t = sum_s s_st (x_t - x_s) / |x_t - x_s|. The scalar depends only on invariant features,
so the forces turn with the structure by construction, and like ForceNet's they are direct
predictions, not energy gradients (same cost per step, no second backward pass). The scalar
is damped by a cosine cutoff so an atom crossing the cutoff changes forces smoothly.
Energies are the per-atom outputs of the crystal model summed per structure.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch_geometric.data import Batch

from crystalbench.models.dimenet import DimeNetPP, DimeNetPPConfig
from crystalbench.models.layers import (
    cosine_cutoff,
    edge_forces,
    edge_pairs_at_target,
    graph_readout,
    mlp,
    vertex_angles,
)
from crystalbench.models.schnet import SchNet, SchNetConfig


@dataclass
class SchNetForcesConfig(SchNetConfig):
    """SchNet's defaults at the S2EF cutoff (6 Å); energies summed per structure."""

    readout: str = "sum"


@dataclass
class DimeNetPPForcesConfig(DimeNetPPConfig):
    """DimeNet++'s defaults at the S2EF cutoff (6 Å, not 5: the graphs hold edges to 6 Å)."""

    cutoff: float = 6.0
    readout: str = "sum"


def _check_energy_config(name: str, readout: str, n_targets: int) -> None:
    if readout != "sum" or n_targets != 1:
        raise ValueError(f"{name} predicts one extensive energy per structure: it needs "
                         f"readout='sum' and n_targets=1, got {readout!r} and {n_targets}")


class SchNetForces(SchNet):
    """SchNet trunk; edge scalar = MLP([h_s, h_t, Gaussians(d)]) x cosine cutoff."""

    name = "SchNet forces"

    def __init__(self, cfg: SchNetForcesConfig):
        _check_energy_config(self.name, cfg.readout, cfg.n_targets)
        super().__init__(cfg)
        self.edge_head = mlp(2 * cfg.width + cfg.gaussians, [cfg.width, 1],
                             final_activation=False)

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Forces (N, 3) and energies (num_graphs,)."""
        h, dist, basis = self.trunk(batch)
        src, dst = batch.edge_index
        scalar = self.edge_head(torch.cat([h[src], h[dst], basis], dim=1))[:, 0]
        forces = edge_forces(scalar * cosine_cutoff(dist, self.cfg.cutoff), batch, dist)
        return forces, graph_readout(self.head(h), batch, "sum")[:, 0]


class DimeNetPPForces(DimeNetPP):
    """DimeNet++ trunk; edge scalar = MLP(final edge message m) x cosine cutoff.

    Edge pairs sharing a target come from ``batch.angle_index`` when the graphs carry a line
    graph, otherwise they are built here from ``edge_index`` (the S2EF graphs store none).
    """

    name = "DimeNet++ forces"

    def __init__(self, cfg: DimeNetPPForcesConfig):
        _check_energy_config(self.name, cfg.readout, cfg.n_targets)
        super().__init__(cfg)
        self.edge_head = mlp(cfg.width, [cfg.width, 1], final_activation=False)

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Forces (N, 3) and energies (num_graphs,)."""
        pairs = getattr(batch, "angle_index", None)
        if pairs is None:
            pairs = edge_pairs_at_target(batch.edge_index[1], batch.num_nodes)
        per_atom, m, dist = self.trunk(batch, pairs, vertex_angles(batch.edge_vec, pairs))
        scalar = self.edge_head(m)[:, 0] * cosine_cutoff(dist, self.cfg.cutoff)
        return edge_forces(scalar, batch, dist), graph_readout(per_atom, batch, "sum")[:, 0]
