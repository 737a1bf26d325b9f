"""Building blocks shared by the graph-network models: MLPs, bases, embeddings, readouts."""

from __future__ import annotations

import torch
from torch import nn

from crystalbench.models.elements import element_feature_table


def mlp(in_dim: int, widths: list[int], final_activation: bool = True) -> nn.Sequential:
    """Dense layers with swish (SiLU) after each, optionally not after the last."""
    layers: list[nn.Module] = []
    for i, width in enumerate(widths):
        layers.append(nn.Linear(in_dim, width))
        if final_activation or i < len(widths) - 1:
            layers.append(nn.SiLU())
        in_dim = width
    return nn.Sequential(*layers)


class GaussianBasis(nn.Module):
    """exp(-(x - mu_k)^2 / (2 sigma^2)) with centres linspace(start, stop, n + 1)[1:]."""

    def __init__(self, start: float, stop: float, n: int, sigma: float):
        super().__init__()
        self.register_buffer("centres", torch.linspace(start, stop, n + 1)[1:])
        self.sigma = sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(-((x[:, None] - self.centres) ** 2) / (2 * self.sigma**2))


class AtomEmbedding(nn.Module):
    """Learned embedding of Z concatenated with pymatgen element features, then linear."""

    def __init__(self, width: int):
        super().__init__()
        features = torch.from_numpy(element_feature_table())
        self.register_buffer("features", features)
        self.embedding = nn.Embedding(features.shape[0], width)
        self.project = nn.Linear(width + features.shape[1], width)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([self.embedding(z), self.features[z]], dim=-1))


def scatter_sum(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Sum rows of ``values`` into ``size`` bins (pure torch, deterministic on CPU)."""
    out = values.new_zeros((size, *values.shape[1:]))
    return out.index_add_(0, index, values)


def multiplicity_mean(
    h: torch.Tensor, multiplicity: torch.Tensor, batch: torch.Tensor, n_graphs: int
) -> torch.Tensor:
    """Per-graph mean over all atoms of the cell: sum m_i h_i / sum m_i over ASU nodes."""
    weighted = scatter_sum(h * multiplicity[:, None], batch, n_graphs)
    return weighted / scatter_sum(multiplicity[:, None], batch, n_graphs)
