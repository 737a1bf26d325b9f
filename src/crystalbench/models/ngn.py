"""Nested graph networks (NGN): coGN and coNGN composed from one configurable block.

A GN block computes messages m_ij = MLP_E([e_ij, h_dst, h_src]) from the initial edge
embedding (edge features are not carried between blocks), optionally refines them with a
nested block on the line graph, sums them into the target and updates h <- h + MLP_V(sum).
The nested block treats messages as the nodes of the line graph: for every pair of edges
(ij, kj) sharing the target j it computes t = MLP([angle basis, m_ij, m_kj]), sums t into m_ij
and gates the result into m_ij with a GRU cell. An optional global state u joins the edge and
node inputs and is updated from the multiplicity-weighted mean of h.

Only distances, angles and ridge areas enter, and all aggregation is into targets, so every
configuration is invariant to rotation, translation and permutation and gives the same output
on the ASU graph as on the full cell (all in-edges and in-pairs of an ASU node are present).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch_geometric.data import Batch

from crystalbench.models.elements import ELEMENT_TABLES
from crystalbench.models.layers import (
    INITS,
    AtomEmbedding,
    GaussianBasis,
    edge_lengths,
    graph_readout,
    mlp,
    pair_angles,
    reference_init,
    require,
    scatter_sum,
)
from crystalbench.models.resolution import check_resolution


@dataclass
class NGNConfig:
    """Architecture hyperparameters; defaults are the reference coGN (kgcnn 3.0 MatBench)."""

    width: int = 128
    blocks: int = 5
    edge_mlp_depth: int = 5
    node_mlp_depth: int = 1
    nested: list[int] = field(default_factory=list)  # indices of blocks with a nested block
    nested_edge_depth: int = 2
    nested_node_depth: int = 2
    global_update: bool = False
    readout: str = "mean"
    readout_hidden: list[int] = field(default_factory=list)
    distance_basis: int = 32
    distance_max: float = 8.0
    distance_sigma: float = 0.5
    area_basis: int = 0  # Gaussians of the Voronoi ridge area (0: areas not used)
    area_max: float = 30.0
    area_sigma: float = 0.968
    angle_basis: int = 16
    angle_max: float = 3.2
    angle_sigma: float = 0.447
    n_targets: int = 1
    elements: str = "reference"  # element table of the atom embedding (models.elements)
    init: str = "reference"  # "reference": Keras defaults as kgcnn; "torch": PyTorch defaults

    def __post_init__(self) -> None:
        bad = [i for i in self.nested if not 0 <= i < self.blocks]
        if bad:
            raise ValueError(f"nested block indices {bad} outside 0..{self.blocks - 1}")
        if self.readout not in ("mean", "sum"):
            raise ValueError(f"readout must be 'mean' or 'sum', got {self.readout!r}")
        if self.elements not in ELEMENT_TABLES:
            raise ValueError(f"elements must be one of {ELEMENT_TABLES}, got {self.elements!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")


def congn_config(**overrides: object) -> NGNConfig:
    """The reference coNGN: width 160, every block nested, ridge areas, Dense(160) readout."""
    params: dict[str, object] = dict(
        width=160, blocks=5, edge_mlp_depth=4, node_mlp_depth=4, nested=list(range(5)),
        area_basis=32, readout_hidden=[160])
    params.update(overrides)
    if "blocks" in overrides and "nested" not in overrides:
        params["nested"] = list(range(int(params["blocks"])))  # type: ignore[arg-type]
    return NGNConfig(**params)  # type: ignore[arg-type]


class NestedBlock(nn.Module):
    """One line-graph GN step on the messages, gated into them by a GRU cell."""

    def __init__(self, width: int, n_angle: int, edge_depth: int, node_depth: int):
        super().__init__()
        self.edge_mlp = mlp(n_angle + 2 * width, [width] * edge_depth)
        self.node_mlp = mlp(width, [width] * node_depth)
        self.gate = nn.GRUCell(width, width)

    def forward(self, m: torch.Tensor, angles: torch.Tensor, a: torch.Tensor,
                b: torch.Tensor) -> torch.Tensor:
        t = self.edge_mlp(torch.cat([angles, m[a], m[b]], dim=-1))
        return self.gate(self.node_mlp(scatter_sum(t, a, m.shape[0])), m)


class GNBlock(nn.Module):
    """Edge MLP, optional nested refinement, sum into the target, residual node MLP."""

    def __init__(self, cfg: NGNConfig, nested: bool):
        super().__init__()
        u = cfg.width if cfg.global_update else 0
        self.edge_mlp = mlp(3 * cfg.width + u, [cfg.width] * cfg.edge_mlp_depth)
        self.node_mlp = mlp(cfg.width + u, [cfg.width] * cfg.node_mlp_depth)
        self.nested = (NestedBlock(cfg.width, cfg.angle_basis, cfg.nested_edge_depth,
                                   cfg.nested_node_depth) if nested else None)
        self.global_mlp = mlp(2 * cfg.width, [cfg.width]) if cfg.global_update else None

    def forward(self, h: torch.Tensor, e: torch.Tensor, batch: Batch,
                angles: torch.Tensor | None, u: torch.Tensor | None,
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        src, dst = batch.edge_index
        inputs = [e, h[dst], h[src]]
        if u is not None:
            inputs.append(u[batch.batch[dst]])
        m = self.edge_mlp(torch.cat(inputs, dim=-1))
        if self.nested is not None:
            a, b = batch.angle_index
            m = self.nested(m, angles, a, b)
        aggregated = scatter_sum(m, dst, h.shape[0])
        if u is None:
            return h + self.node_mlp(aggregated), None
        h = h + self.node_mlp(torch.cat([aggregated, u[batch.batch]], dim=-1))
        return h, u + self.global_mlp(torch.cat([u, graph_readout(h, batch, "mean")], dim=-1))


class NGN(nn.Module):
    """coGN / coNGN; ``forward`` returns one row of ``n_targets`` values per graph."""

    def __init__(self, cfg: NGNConfig):
        super().__init__()
        self.cfg = cfg
        self.atoms = AtomEmbedding(cfg.width, cfg.elements)
        self.basis = GaussianBasis(0.0, cfg.distance_max, cfg.distance_basis, cfg.distance_sigma)
        self.distance_cosine = check_resolution(
            self.basis, cfg.distance_max, f"the distance basis (distance_basis "
            f"{cfg.distance_basis}, distance_sigma {cfg.distance_sigma})")
        self.area_basis = (GaussianBasis(0.0, cfg.area_max, cfg.area_basis, cfg.area_sigma)
                           if cfg.area_basis else None)
        self.angle_basis = (GaussianBasis(0.0, cfg.angle_max, cfg.angle_basis, cfg.angle_sigma)
                            if cfg.nested else None)
        self.edges = nn.Linear(cfg.distance_basis + cfg.area_basis, cfg.width)
        self.blocks = nn.ModuleList(GNBlock(cfg, i in cfg.nested) for i in range(cfg.blocks))
        self.readout = nn.Sequential(
            mlp(cfg.width, cfg.readout_hidden),
            nn.Linear(cfg.readout_hidden[-1] if cfg.readout_hidden else cfg.width, cfg.n_targets),
        )
        if cfg.init == "reference":
            reference_init(self)

    def forward(self, batch: Batch) -> torch.Tensor:
        h = self.atoms(batch.z)
        features = [self.basis(edge_lengths(batch))]
        if self.area_basis is not None:
            require(batch, "edge_area", "a Voronoi graph variant (`edges: voronoi`)")
            features.append(self.area_basis(batch.edge_area))
        e = self.edges(torch.cat(features, dim=-1))
        angles = self.angle_basis(pair_angles(batch)) if self.angle_basis is not None else None
        u = h.new_zeros(batch.num_graphs, self.cfg.width) if self.cfg.global_update else None
        for block in self.blocks:
            h, u = block(h, e, batch, angles, u)
        pooled = u if u is not None else graph_readout(h, batch, self.cfg.readout)
        return self.readout(pooled)
