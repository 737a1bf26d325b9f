"""CGCNN (Xie & Grossman 2018) over our precomputed periodic graphs, with PyG's ``CGConv``.

As in the original: h <- softplus(h + sum_j sigmoid(z W_f) * softplus(z W_s)) with
z = [h_i, h_j, Gaussian(d_ij)], mean pooling, softplus, hidden layers, linear output. Two
documented differences: the atom input is our pymatgen element embedding (the original's
92-dim one-hot table is not shipped), and there is no batch normalisation, because its
statistics over ASU nodes are not weighted by multiplicity and would make the ASU model train
differently from the cell model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.functional import softplus
from torch_geometric.data import Batch
from torch_geometric.nn import CGConv

from crystalbench.models.layers import AtomEmbedding, edge_lengths, graph_readout
from crystalbench.models.resolution import check_resolution


@dataclass
class CGCNNConfig:
    """Defaults: the CGCNN repository's training defaults (64 / 3 convs / 128 / 1)."""

    width: int = 64
    conv_layers: int = 3
    hidden: int = 128
    hidden_layers: int = 1
    gaussian_max: float = 8.0
    gaussian_step: float = 0.2
    readout: str = "mean"
    n_targets: int = 1


class CGCNN(nn.Module):
    """Crystal graph convolutions and a pooled MLP head."""

    def __init__(self, cfg: CGCNNConfig):
        super().__init__()
        self.cfg = cfg
        centres = torch.arange(0.0, cfg.gaussian_max + cfg.gaussian_step / 2, cfg.gaussian_step)
        self.register_buffer("centres", centres)
        self.atoms = AtomEmbedding(cfg.width)
        self.convs = nn.ModuleList(CGConv(cfg.width, dim=len(centres), aggr="add")
                                   for _ in range(cfg.conv_layers))
        self.to_hidden = nn.Linear(cfg.width, cfg.hidden)
        self.hidden = nn.ModuleList(nn.Linear(cfg.hidden, cfg.hidden)
                                    for _ in range(cfg.hidden_layers - 1))
        self.out = nn.Linear(cfg.hidden, cfg.n_targets)
        self.distance_cosine = check_resolution(
            self.expand, cfg.gaussian_max, f"CGCNN's Gaussian basis (gaussian_max "
            f"{cfg.gaussian_max}, gaussian_step {cfg.gaussian_step})")

    def expand(self, d: torch.Tensor) -> torch.Tensor:
        """Gaussians of width gaussian_step at every step from 0 to gaussian_max."""
        return torch.exp(-((d[:, None] - self.centres) ** 2) / self.cfg.gaussian_step**2)

    def forward(self, batch: Batch) -> torch.Tensor:
        d = edge_lengths(batch)
        e = self.expand(d)
        h = self.atoms(batch.z)
        for conv in self.convs:
            h = softplus(conv(h, batch.edge_index, e))
        x = softplus(self.to_hidden(softplus(graph_readout(h, batch, self.cfg.readout))))
        for layer in self.hidden:
            x = softplus(layer(x))
        return self.out(x)
