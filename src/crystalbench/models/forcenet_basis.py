"""ForceNet's bases: expansions of raw node and edge features before the first linear layer.

ForceNet's ablations compare these (the choice of basis is one of its design levers), so each
is selectable by name:

* ``powersine``: sin(x f_k), k = 0..n_freqs-1, per input feature, with frequencies growing
  geometrically from 1 to ``max_freq`` rad per unit (per cutoff for distances). The
  reference's 50 frequencies 1.1^k are n_freqs 50 with max_freq 1.1^49 (~107); width
  (n_freqs) and resolution (max_freq) are separate choices, because a basis cut short at
  1.1^15 (~4 rad) cannot tell neighbour distances apart (see ``models.resolution``).
* ``gauss``: exp(-gamma (x - mu_k)^2), n_freqs centres on [0, 1], gamma = 0.5 / dmu^2.
* ``linact``: a learned Linear(in -> n_freqs in) and an activation.
* ``raw``: the features as they are.
* ``sphallmul`` (edges only): real spherical harmonics Y_lm (l < max_n) of the unit vector,
  times a Linear(powersine of the distance terms -> n_distance terms), outer product
  flattened: 9 x 4 = 36 numbers at the defaults. The direction enters through fixed
  functions of the absolute orientation, which is what makes ForceNet not rotation
  equivariant (the paper's premise: symmetry is learned from rotated data).
"""

from __future__ import annotations

import torch
from torch import nn

from crystalbench.models.layers import activation
from crystalbench.models.spherical import num_spherical, real_spherical_harmonics

BASES = ("powersine", "gauss", "linact", "raw", "sphallmul")
FEATURE_BASES = ("powersine", "gauss", "linact", "raw")
REFERENCE_MAX_FREQ = 1.1**49  # the highest of the reference's 50 frequencies 1.1^k


class FeatureBasis(nn.Module):
    """One of the per-feature bases (``FEATURE_BASES``) on (n, in_features) inputs."""

    def __init__(self, kind: str, in_features: int, n_freqs: int = 50,
                 act: str = "swish", max_freq: float = REFERENCE_MAX_FREQ):
        super().__init__()
        if kind not in FEATURE_BASES:
            raise ValueError(f"unknown feature basis {kind!r}; options: {FEATURE_BASES}")
        self.kind = kind
        self.out_dim = in_features if kind == "raw" else in_features * n_freqs
        if kind == "powersine":
            exponents = torch.linspace(0.0, 1.0, n_freqs, dtype=torch.float64)
            self.register_buffer("freqs", (max_freq**exponents).float())
        elif kind == "gauss":
            centres = torch.linspace(0.0, 1.0, n_freqs)
            self.register_buffer("centres", centres)
            self.gamma = 0.5 / float(centres[1] - centres[0]) ** 2
        elif kind == "linact":
            self.linear = nn.Linear(in_features, self.out_dim)
            self.act = activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "powersine":
            return torch.sin(x[:, :, None] * self.freqs).flatten(1)
        if self.kind == "gauss":
            return torch.exp(-self.gamma * (x[:, :, None] - self.centres) ** 2).flatten(1)
        if self.kind == "linact":
            return self.act(self.linear(x))
        return x


class EdgeBasis(nn.Module):
    """Basis of the raw edge features [unit vector (3), distance terms (n_dist)].

    For ``gauss`` the unit vector is first mapped to (v + 1) / 2 so it lies in the centres'
    range [0, 1]; the distance terms already do (they are divided by the cutoff).
    """

    def __init__(self, kind: str, n_dist: int = 4, n_freqs: int = 50, max_n: int = 3,
                 act: str = "swish", max_freq: float = REFERENCE_MAX_FREQ):
        super().__init__()
        if kind not in BASES:
            raise ValueError(f"unknown edge basis {kind!r}; options: {BASES}")
        self.kind, self.max_n = kind, max_n
        if kind == "sphallmul":
            self.sine = FeatureBasis("powersine", n_dist, n_freqs, max_freq=max_freq)
            self.radial = nn.Linear(self.sine.out_dim, n_dist)
            self.out_dim = num_spherical(max_n) * n_dist
        else:
            self.basis = FeatureBasis(kind, 3 + n_dist, n_freqs, act, max_freq)
            self.out_dim = self.basis.out_dim

    def forward(self, unit: torch.Tensor, dist_terms: torch.Tensor) -> torch.Tensor:
        if self.kind == "sphallmul":
            sph = real_spherical_harmonics(unit, self.max_n)
            radial = self.radial(self.sine(dist_terms))
            return (sph[:, :, None] * radial[:, None, :]).flatten(1)
        if self.kind == "gauss":
            unit = (unit + 1.0) / 2.0
        return self.basis(torch.cat([unit, dist_terms], dim=1))
