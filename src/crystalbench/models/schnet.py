"""SchNet (Schütt et al. 2018) over our precomputed periodic graphs, with PyG's own blocks.

PyG's ``InteractionBlock`` (continuous-filter convolution with a cosine cutoff) runs on the
stored edges instead of a radius graph built from positions; per-atom outputs go through the
multiplicity-weighted readout, so the ASU graph gives the cell's result. The cosine cutoff
is periodic beyond ``cutoff``, so the graph must hold no longer edge (a radius graph with at
most that cutoff): a longer edge is an error, not a silent wrong filter.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch_geometric.data import Batch
from torch_geometric.nn.models.schnet import GaussianSmearing, InteractionBlock, ShiftedSoftplus

from crystalbench.models.layers import edge_lengths, graph_readout, require_within_cutoff
from crystalbench.models.resolution import check_resolution


@dataclass
class SchNetConfig:
    """Defaults: PyG's SchNet (hidden 128, filters 128, 6 interactions, 50 Gaussians)."""

    width: int = 128
    filters: int = 128
    interactions: int = 6
    gaussians: int = 50
    cutoff: float = 6.0
    readout: str = "mean"
    n_targets: int = 1


class SchNet(nn.Module):
    """Embedding of Z, residual interaction blocks, atom-wise MLP, multiplicity readout."""

    name = "SchNet"  # in error messages

    def __init__(self, cfg: SchNetConfig):
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Embedding(119, cfg.width)
        self.smearing = GaussianSmearing(0.0, cfg.cutoff, cfg.gaussians)
        self.distance_cosine = check_resolution(
            self.smearing, cfg.cutoff, f"{self.name}'s Gaussian smearing (gaussians "
            f"{cfg.gaussians}, cutoff {cfg.cutoff})")
        self.interactions = nn.ModuleList(
            InteractionBlock(cfg.width, cfg.gaussians, cfg.filters, cfg.cutoff)
            for _ in range(cfg.interactions))
        self.head = nn.Sequential(nn.Linear(cfg.width, cfg.width // 2), ShiftedSoftplus(),
                                  nn.Linear(cfg.width // 2, cfg.n_targets))

    def trunk(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-atom features after the interactions, edge lengths and their Gaussian basis
        (shared with the force model, which reads its edge terms from the same pieces)."""
        dist = edge_lengths(batch)
        require_within_cutoff(dist, self.cfg.cutoff, self.name)
        basis = self.smearing(dist)
        h = self.embedding(batch.z)
        for interaction in self.interactions:
            h = h + interaction(h, batch.edge_index, dist, basis)
        return h, dist, basis

    def forward(self, batch: Batch) -> torch.Tensor:
        h, _, _ = self.trunk(batch)
        return graph_readout(self.head(h), batch, self.cfg.readout)
