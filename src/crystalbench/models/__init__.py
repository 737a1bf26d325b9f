"""Model zoo: every model is built from a config dict by ``build_model``."""

from __future__ import annotations

from typing import Any

from torch import nn

from crystalbench.models.cogn import CoGN, CoGNConfig

ARCHITECTURES = {"cogn": (CoGN, CoGNConfig)}


def build_model(architecture: str, params: dict[str, Any]) -> nn.Module:
    """Instantiate ``architecture`` with hyperparameters ``params`` (unknown keys are errors)."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; known: {sorted(ARCHITECTURES)}")
    model_cls, config_cls = ARCHITECTURES[architecture]
    return model_cls(config_cls(**params))


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
