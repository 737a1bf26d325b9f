"""Building blocks shared by the graph-network models: MLPs, bases, embeddings, readouts."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch_geometric.data import Batch
from torch_geometric.nn.models.schnet import ShiftedSoftplus

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
    """Learned embedding of Z concatenated with element features (``elements`` names the
    table, see ``models.elements``), then linear."""

    def __init__(self, width: int, elements: str = "pymatgen"):
        super().__init__()
        features = torch.from_numpy(element_feature_table(elements))
        self.register_buffer("features", features)
        self.embedding = nn.Embedding(features.shape[0], width)
        self.project = nn.Linear(width + features.shape[1], width)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([self.embedding(z), self.features[z]], dim=-1))


INITS = ("reference", "torch")


def reference_init(module: nn.Module) -> None:
    """Initialise as Keras does by default, i.e. as kgcnn's coGN/coNGN start: glorot-uniform
    weights and zero biases in dense layers, embeddings from U(-0.05, 0.05), GRU cells with a
    glorot-uniform input kernel, an orthogonal recurrent kernel and zero biases.

    PyTorch's own defaults differ most in the embedding (N(0, 1)), which then outweighs the
    element features in the first atom vectors.
    """
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.uniform_(m.weight, -0.05, 0.05)
        elif isinstance(m, nn.GRUCell):
            nn.init.xavier_uniform_(m.weight_ih)
            nn.init.orthogonal_(m.weight_hh)
            nn.init.zeros_(m.bias_ih)
            nn.init.zeros_(m.bias_hh)


def scatter_sum(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Sum rows of ``values`` into ``size`` bins (pure torch, deterministic on CPU).

    Half-precision values (float16/bfloat16 under autocast) are summed into a float32
    accumulator and the sum is returned in float32: hundreds of messages into one node lose
    too much in 8- or 11-bit mantissas. Float32 and float64 values are summed as they are.
    """
    if values.dtype in (torch.float16, torch.bfloat16):
        values = values.float()
    out = values.new_zeros((size, *values.shape[1:]))
    return out.index_add_(0, index, values)


def multiplicity_mean(
    h: torch.Tensor, multiplicity: torch.Tensor, batch: torch.Tensor, n_graphs: int
) -> torch.Tensor:
    """Per-graph mean over all atoms of the cell: sum m_i h_i / sum m_i over ASU nodes."""
    weighted = scatter_sum(h * multiplicity[:, None], batch, n_graphs)
    return weighted / scatter_sum(multiplicity[:, None], batch, n_graphs)


def edge_lengths(batch: Batch) -> torch.Tensor:
    """Length of every edge vector (Å)."""
    return torch.linalg.vector_norm(batch.edge_vec, dim=-1)


def pair_angles(batch: Batch) -> torch.Tensor:
    """Angle (rad, [0, pi]) at the shared target between the two edges of each line-graph pair.

    Both edge vectors point into the target, so this is the vertex angle i-j-k. atan2 of
    |cross| and dot stays accurate near 0 and pi, where acos of the cosine does not.
    """
    require(batch, "angle_index", "a graph variant with `line_graph: true`")
    return vertex_angles(batch.edge_vec, batch.angle_index)


def vertex_angles(edge_vec: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """Angle (rad, [0, pi]) between the vectors of each pair (2, P) of edges."""
    u, v = edge_vec[pairs[0]], edge_vec[pairs[1]]
    return torch.atan2(torch.linalg.vector_norm(torch.cross(u, v, dim=-1), dim=-1),
                       (u * v).sum(-1))


def require(batch: Batch, key: str, hint: str) -> None:
    """Stop with a clear message when a model needs a graph field the graph does not have."""
    if getattr(batch, key, None) is None:
        raise ValueError(f"this model needs `{key}` in its input graphs: use {hint}")


def graph_readout(h: torch.Tensor, batch: Batch, how: str) -> torch.Tensor:
    """Multiplicity-aware pooling of node features: 'mean' over the cell's atoms or 'sum'.

    Graphs without a ``multiplicity`` field (full-cell force graphs) have one atom per node.
    """
    if how not in ("mean", "sum"):
        raise ValueError(f"readout must be 'mean' or 'sum', got {how!r}")
    multiplicity = getattr(batch, "multiplicity", None)
    if multiplicity is None:
        multiplicity = h.new_ones(h.shape[0])
    if how == "mean":
        return multiplicity_mean(h, multiplicity, batch.batch, batch.num_graphs)
    return scatter_sum(h * multiplicity[:, None], batch.batch, batch.num_graphs)


def require_within_cutoff(dist: torch.Tensor, cutoff: float, model: str) -> None:
    """Stop when a graph holds edges beyond a model's cutoff (its basis is not zero there)."""
    if len(dist) and float(dist.max()) > cutoff + 1e-6:
        raise ValueError(f"{model} has a {cutoff} Å cutoff but the graph has an edge of "
                         f"{float(dist.max()):.3f} Å: use a radius graph with cutoff <= {cutoff}")


ACTIVATIONS = ("swish", "relu", "softplus", "ssp", "tanh", "elu", "leaky_relu")


def activation(name: str) -> nn.Module:
    """Activation by name (configs are strings); an unknown name lists the options."""
    if name == "swish":
        return nn.SiLU()
    if name == "relu":
        return nn.ReLU()
    if name == "softplus":
        return nn.Softplus()
    if name == "ssp":
        return ShiftedSoftplus()  # PyG's: softplus(x) - ln 2
    if name == "tanh":
        return nn.Tanh()
    if name == "elu":
        return nn.ELU()
    if name == "leaky_relu":
        return nn.LeakyReLU()
    raise ValueError(f"unknown activation {name!r}; options: {', '.join(ACTIVATIONS)}")


def cosine_cutoff(dist: torch.Tensor, cutoff: float) -> torch.Tensor:
    """0.5 (cos(pi d / c) + 1): 1 at d = 0, zero with zero slope at the cutoff."""
    return 0.5 * (torch.cos(dist * math.pi / cutoff) + 1.0)


def edge_pairs_at_target(edge_dst: torch.Tensor, n_nodes: int) -> torch.Tensor:
    """(2, P) ordered pairs (a, b), a != b, of edges with the same target, vectorised.

    The torch counterpart of ``line_graph.angle_pairs`` for a batch whose graphs carry no
    line graph (it would be ~50x larger than the edges). Edges need not be sorted; for
    sorted edges the pairs come in the same order as ``angle_pairs``.
    """
    order = torch.argsort(edge_dst, stable=True)
    counts = torch.bincount(edge_dst, minlength=n_nodes)
    starts = torch.cumsum(counts, 0) - counts
    per_edge = counts[edge_dst]  # partners of each edge, itself included
    a = torch.repeat_interleave(torch.arange(len(edge_dst), device=edge_dst.device), per_edge)
    first = torch.repeat_interleave(torch.cumsum(per_edge, 0) - per_edge, per_edge)
    b = order[starts[edge_dst[a]] + torch.arange(len(a), device=a.device) - first]
    keep = a != b
    return torch.stack([a[keep], b[keep]])


def edge_forces(scalar: torch.Tensor, batch: Batch, dist: torch.Tensor) -> torch.Tensor:
    """F_t = sum over edges s -> t of s_st * unit(edge_vec): equivariant by construction.

    ``scalar`` (E,) or (E, 1) is rotation invariant, so each term turns with its edge.
    """
    unit = batch.edge_vec / dist[:, None]
    return scatter_sum(scalar.reshape(-1, 1) * unit, batch.edge_index[1], batch.num_nodes)
