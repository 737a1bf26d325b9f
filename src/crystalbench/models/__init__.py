"""Model zoo: every model is built from a config dict by ``build_model``.

coGN and coNGN are two configurations of one nested graph network (``ngn``); SchNet, CGCNN
and DimeNet++ are baselines over the same precomputed graphs and multiplicity readout.
Force models (S2EF: per-atom forces and per-structure energies) have their own registry,
``FORCE_ARCHITECTURES`` and ``build_force_model``, since their outputs differ.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from crystalbench.models.cgcnn import CGCNN, CGCNNConfig
from crystalbench.models.dimenet import DimeNetPP, DimeNetPPConfig
from crystalbench.models.force_baselines import (
    DimeNetPPForces,
    DimeNetPPForcesConfig,
    SchNetForces,
    SchNetForcesConfig,
)
from crystalbench.models.forcenet import ForceNet, ForceNetConfig
from crystalbench.models.ngn import NGN, NGNConfig, congn_config
from crystalbench.models.schnet import SchNet, SchNetConfig

ARCHITECTURES: dict[str, tuple[type[nn.Module], Callable[..., Any]]] = {
    "cogn": (NGN, NGNConfig),
    "congn": (NGN, congn_config),
    "schnet": (SchNet, SchNetConfig),
    "cgcnn": (CGCNN, CGCNNConfig),
    "dimenetpp": (DimeNetPP, DimeNetPPConfig),
}

FORCE_ARCHITECTURES: dict[str, tuple[type[nn.Module], Callable[..., Any]]] = {
    "forcenet": (ForceNet, ForceNetConfig),
    "schnet_forces": (SchNetForces, SchNetForcesConfig),
    "dimenetpp_forces": (DimeNetPPForces, DimeNetPPForcesConfig),
}


def build_model(architecture: str, params: dict[str, Any]) -> nn.Module:
    """Instantiate ``architecture`` with hyperparameters ``params`` (unknown keys are errors)."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; known: {sorted(ARCHITECTURES)}")
    model_cls, make_config = ARCHITECTURES[architecture]
    return model_cls(make_config(**params))


def build_force_model(architecture: str, params: dict[str, Any]) -> nn.Module:
    """Instantiate force model ``architecture``: ``forward(batch) -> (forces, energies)``."""
    if architecture not in FORCE_ARCHITECTURES:
        raise ValueError(f"unknown force architecture {architecture!r}; "
                         f"known: {sorted(FORCE_ARCHITECTURES)}")
    model_cls, make_config = FORCE_ARCHITECTURES[architecture]
    return model_cls(make_config(**params))


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
