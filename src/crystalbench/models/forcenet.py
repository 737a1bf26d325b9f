"""ForceNet (Hu et al. 2021, as ported to ocp): direct per-atom forces, no built-in symmetry.

Node input: 9 physical element properties (``forcenet_elements``) through a sine basis and a
linear layer. Edge input: the unit vector and 4 distance terms d/c, (d - r_s)/c, (d - r_t)/c,
(d - r_s - r_t)/c (r: covalent radius, c: cutoff), expanded by a basis (``forcenet_basis``).
Each interaction conditions its filter on the edge and both atoms, weights it by a cosine
that reaches 0 at the cutoff, and updates atoms residually. Forces come from a per-atom MLP,
not from an energy gradient, and the edge basis sees absolute directions, so the model is
NOT rotation equivariant: it is meant to learn the symmetry from rotated training data.

Normalisation: BatchNorm in the node MLP and the force decoder, as in the reference. It
normalises each channel across the atoms of a batch, which keeps the relative size of the
features of different atoms; that is what a force decoder needs (most atoms of a slab feel
almost nothing, a few feel eV/Å). LayerNorm normalises each atom on its own and so erases
that size. The price is the reference's: in training an atom's output depends on its batch-mates; in
evaluation the running statistics are used, so a structure's prediction is its own.
``norm="layer"`` and ``"none"`` remain for ablations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch_geometric.data import Batch

from crystalbench.models.forcenet_basis import REFERENCE_MAX_FREQ, EdgeBasis, FeatureBasis
from crystalbench.models.forcenet_elements import covalent_radius_table, forcenet_element_table
from crystalbench.models.layers import (
    activation,
    edge_lengths,
    graph_readout,
    require_within_cutoff,
    scatter_sum,
)
from crystalbench.models.resolution import check_resolution

NORMS = ("layer", "batch", "none")
MIN_DIST_TERM = 1e-3


@dataclass
class ForceNetConfig:
    """Defaults: ocp's ForceNet (``fn_forceonly.yml``): 5 interactions, width 512, sphallmul
    basis with 50 frequencies up to 1.1^49 rad per cutoff, swish, BatchNorm."""

    hidden: int = 512
    interactions: int = 5
    decoder_hidden: int = 512
    cutoff: float = 6.0
    basis: str = "sphallmul"
    max_n: int = 3
    n_freqs: int = 50  # basis width: frequencies (powersine) or centres (gauss) per feature
    max_freq: float = REFERENCE_MAX_FREQ  # powersine resolution: highest frequency per cutoff
    depth_mlp_edge: int = 2
    depth_mlp_node: int = 1
    activation: str = "swish"
    decoder_activation: str = "swish"
    atom_features: str = "full"  # "full": 9 element properties; "simple": embedding of Z
    norm: str = "batch"


def norm_layer(kind: str, width: int) -> nn.Module:
    """Per-channel normalisation by name (see the module docstring for the choice)."""
    if kind == "layer":
        return nn.LayerNorm(width)
    if kind == "batch":
        return nn.BatchNorm1d(width)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; options: {NORMS}")


def _xavier(module: nn.Module) -> None:
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)


class ForceNetInteraction(nn.Module):
    """Conditional filter W_st = MLP([e_st, h_s, h_t]) cos(pi d / 2c); returns the update
    MLP(sum_s x'_s W_st + w_self x'_t) that the caller adds to h."""

    def __init__(self, hidden: int, basis_dim: int, depth_edge: int, depth_node: int,
                 act: str, norm: str):
        super().__init__()
        self.edge_embedding = nn.Linear(basis_dim, hidden)
        edge: list[nn.Module] = [nn.Linear(3 * hidden, hidden)]
        for _ in range(depth_edge):
            edge += [activation(act), nn.Linear(hidden, hidden)]
        if depth_edge == 0:  # a bare linear filter is unstable without normalisation
            edge.append(norm_layer(norm, hidden))
        self.mlp_edge = nn.Sequential(*edge)
        self.linear = nn.Linear(hidden, hidden)
        node: list[nn.Module] = [nn.Linear(hidden, hidden)]
        for _ in range(depth_node):
            node += [norm_layer(norm, hidden), activation(act), nn.Linear(hidden, hidden)]
        if depth_node == 0:
            node.append(norm_layer(norm, hidden))
        self.mlp_node = nn.Sequential(*node)
        self.self_weight = nn.Parameter(torch.empty(1, hidden))
        _xavier(self)
        nn.init.xavier_uniform_(self.self_weight)

    def forward(self, h: torch.Tensor, edge_index: torch.Tensor, edge_basis: torch.Tensor,
                envelope: torch.Tensor) -> torch.Tensor:
        src, dst = edge_index
        e = self.edge_embedding(edge_basis)
        w = self.mlp_edge(torch.cat([e, h[src], h[dst]], dim=1)) * envelope[:, None]
        x = self.linear(h)
        m = scatter_sum(x[src] * w, dst, h.shape[0]) + self.self_weight * x
        return self.mlp_node(m)


class ForceNet(nn.Module):
    """Element-property embedding, conditional-filter interactions, direct force decoder."""

    def __init__(self, cfg: ForceNetConfig):
        super().__init__()
        if cfg.norm not in NORMS:
            raise ValueError(f"unknown norm {cfg.norm!r}; options: {NORMS}")
        self.cfg = cfg
        self.register_buffer("radii", torch.from_numpy(covalent_radius_table()))
        if cfg.atom_features == "full":
            self.register_buffer("elements", torch.from_numpy(forcenet_element_table()))
            # the spherical basis is for directions; element properties get the sine basis
            kind = "powersine" if cfg.basis == "sphallmul" else cfg.basis
            node_basis = FeatureBasis(kind, self.elements.shape[1], cfg.n_freqs,
                                      cfg.activation, cfg.max_freq)
            self.embedding = nn.Sequential(node_basis,
                                           nn.Linear(node_basis.out_dim, cfg.hidden))
        elif cfg.atom_features == "simple":
            self.embedding = nn.Embedding(119, cfg.hidden)
        else:
            raise ValueError(f"atom_features must be 'full' or 'simple', "
                             f"got {cfg.atom_features!r}")
        self.edge_basis = EdgeBasis(cfg.basis, 4, cfg.n_freqs, cfg.max_n, cfg.activation,
                                    cfg.max_freq)
        self.distance_cosine = self.check_distance_basis()
        self.interactions = nn.ModuleList(
            ForceNetInteraction(cfg.hidden, self.edge_basis.out_dim, cfg.depth_mlp_edge,
                                cfg.depth_mlp_node, cfg.activation, cfg.norm)
            for _ in range(cfg.interactions))
        self.readout = nn.Sequential(nn.Linear(cfg.hidden, cfg.decoder_hidden),
                                     activation(cfg.activation))
        self.force_decoder = nn.Sequential(
            nn.Linear(cfg.decoder_hidden, cfg.decoder_hidden),
            norm_layer(cfg.norm, cfg.decoder_hidden), activation(cfg.decoder_activation),
            nn.Linear(cfg.decoder_hidden, 3))
        _xavier(self.force_decoder)
        self.energy_head = nn.Linear(cfg.decoder_hidden, 1)

    def check_distance_basis(self) -> float | None:
        """Resolution of the fixed expansion each distance term goes through (None for the
        learned ``linact`` and the unexpanded ``raw``); see ``models.resolution``."""
        cfg = self.cfg
        if cfg.basis not in ("powersine", "sphallmul", "gauss"):
            return None
        kind = "gauss" if cfg.basis == "gauss" else "powersine"
        term = FeatureBasis(kind, 1, cfg.n_freqs, max_freq=cfg.max_freq)
        return check_resolution(lambda d: term(d[:, None] / cfg.cutoff), cfg.cutoff,
                                f"ForceNet's {kind} distance basis (n_freqs {cfg.n_freqs}"
                                + (f", max_freq {cfg.max_freq:.3g})" if kind == "powersine"
                                   else ")"))

    def edge_features(self, batch: Batch, dist: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """Unit vectors and the 4 distance terms over the cutoff; only the distance terms are
        clipped below at 1e-3 (d - r_s - r_t is negative for close pairs)."""
        src, dst = batch.edge_index
        r_s, r_t = self.radii[batch.z[src]], self.radii[batch.z[dst]]
        terms = torch.stack([dist, dist - r_s, dist - r_t, dist - r_s - r_t], dim=1)
        terms = (terms / self.cfg.cutoff).clamp(min=MIN_DIST_TERM)
        return batch.edge_vec / dist[:, None], terms

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Forces (N, 3) in eV/Å and energies (num_graphs,) in eV."""
        dist = edge_lengths(batch)
        require_within_cutoff(dist, self.cfg.cutoff, "ForceNet")
        if self.cfg.atom_features == "full":
            h = self.embedding(self.elements[batch.z])
        else:
            h = self.embedding(batch.z)
        unit, terms = self.edge_features(batch, dist)
        basis = self.edge_basis(unit, terms)
        envelope = torch.cos(0.5 * math.pi * dist / self.cfg.cutoff)
        for interaction in self.interactions:
            h = h + interaction(h, batch.edge_index, basis, envelope)
        h = self.readout(h)
        energy = self.energy_head(graph_readout(h, batch, "sum")).squeeze(-1)
        return self.force_decoder(h), energy
