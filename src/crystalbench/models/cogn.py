"""coGN: graph-network blocks over (ASU) crystal graphs with a multiplicity-weighted readout.

Each block computes messages m_ij = MLP_E([e_ij, h_dst, h_src]) from the initial edge
embedding (edge features are not carried between blocks), sums them into the target node and
updates h <- h + MLP_V(sum). Distances are the only geometric input, so the model is invariant
to rotation, translation and permutation, and gives the same output on ASU and cell graphs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch_geometric.data import Batch

from crystalbench.models.layers import (
    AtomEmbedding,
    GaussianBasis,
    mlp,
    multiplicity_mean,
    scatter_sum,
)


@dataclass
class CoGNConfig:
    """Architecture hyperparameters; defaults are the reference coGN (kgcnn 3.0 MatBench)."""

    width: int = 128
    blocks: int = 5
    edge_mlp_depth: int = 5
    node_mlp_depth: int = 1
    readout_hidden: list[int] = field(default_factory=list)
    distance_basis: int = 32
    distance_max: float = 8.0
    distance_sigma: float = 0.5
    n_targets: int = 1


class GNBlock(nn.Module):
    """One graph-network block: edge MLP, sum into the target, residual node MLP."""

    def __init__(self, width: int, edge_depth: int, node_depth: int):
        super().__init__()
        self.edge_mlp = mlp(3 * width, [width] * edge_depth)
        self.node_mlp = mlp(width, [width] * node_depth)

    def forward(self, h: torch.Tensor, e: torch.Tensor, src: torch.Tensor,
                dst: torch.Tensor) -> torch.Tensor:
        messages = self.edge_mlp(torch.cat([e, h[dst], h[src]], dim=-1))
        return h + self.node_mlp(scatter_sum(messages, dst, h.shape[0]))


class CoGN(nn.Module):
    """The coGN model; ``forward`` returns one row of ``n_targets`` values per graph."""

    def __init__(self, cfg: CoGNConfig):
        super().__init__()
        self.cfg = cfg
        self.atoms = AtomEmbedding(cfg.width)
        self.basis = GaussianBasis(0.0, cfg.distance_max, cfg.distance_basis, cfg.distance_sigma)
        self.edges = nn.Linear(cfg.distance_basis, cfg.width)
        self.blocks = nn.ModuleList(
            GNBlock(cfg.width, cfg.edge_mlp_depth, cfg.node_mlp_depth) for _ in range(cfg.blocks))
        self.readout = nn.Sequential(
            mlp(cfg.width, cfg.readout_hidden),
            nn.Linear(cfg.readout_hidden[-1] if cfg.readout_hidden else cfg.width, cfg.n_targets),
        )

    def forward(self, batch: Batch) -> torch.Tensor:
        src, dst = batch.edge_index
        h = self.atoms(batch.z)
        e = self.edges(self.basis(torch.linalg.vector_norm(batch.edge_vec, dim=-1)))
        for block in self.blocks:
            h = block(h, e, src, dst)
        pooled = multiplicity_mean(h, batch.multiplicity, batch.batch, batch.num_graphs)
        return self.readout(pooled)
