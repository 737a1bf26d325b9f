"""Distance bases must tell neighbour distances apart: the check fails a power-sine basis cut
short at 1.1^15 (the demo's old n_freqs: 16) and passes every basis in the shipped configs."""

import logging
from pathlib import Path

import pytest
import torch
import yaml

from crystalbench.models import (
    ARCHITECTURES,
    FORCE_ARCHITECTURES,
    build_force_model,
    build_model,
)
from crystalbench.models.forcenet import ForceNet, ForceNetConfig
from crystalbench.models.layers import GaussianBasis
from crystalbench.models.resolution import MAX_COSINE, distance_cosine

CONFIGS = sorted(Path(__file__).parents[2].joinpath("config").glob("*.yaml"))
SMALL = {"hidden": 16, "decoder_hidden": 16, "interactions": 1}
BESSEL = {"dimenetpp", "dimenetpp_forces"}  # sine/Bessel radial bases: not Gaussian, unchecked


def model_configs(node, where=""):
    """Every (place, architecture, params) in a config tree."""
    if isinstance(node, dict):
        if "architecture" in node:
            yield where, node["architecture"], node.get("params", {})
        for key, value in node.items():
            yield from model_configs(value, f"{where}.{key}")


def test_the_truncated_power_sine_basis_is_caught_and_named(caplog):
    with caplog.at_level(logging.WARNING):
        model = ForceNet(ForceNetConfig(**SMALL, n_freqs=16, max_freq=1.1**15))
    assert model.distance_cosine > 0.999
    assert "n_freqs 16, max_freq 4.18" in caplog.text


@pytest.mark.parametrize("basis", ["powersine", "sphallmul", "gauss"])
def test_sixteen_features_resolve_when_the_highest_frequency_is_kept(basis, caplog):
    with caplog.at_level(logging.WARNING):
        model = ForceNet(ForceNetConfig(**SMALL, n_freqs=16, basis=basis))
    assert model.distance_cosine < MAX_COSINE
    assert caplog.text == ""


def test_the_reference_frequencies_are_the_powers_of_1_1():
    model = ForceNet(ForceNetConfig(**SMALL))
    expected = 1.1 ** torch.arange(50, dtype=torch.float64)
    torch.testing.assert_close(model.edge_basis.sine.freqs.double(), expected, rtol=1e-6, atol=0)


def test_cosine_falls_as_gaussians_narrow():
    wide, narrow = GaussianBasis(0.0, 8.0, 8, 1.0), GaussianBasis(0.0, 8.0, 64, 0.125)
    assert distance_cosine(wide, 0.5, 8.0) > MAX_COSINE > distance_cosine(narrow, 0.5, 8.0)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_distance_basis_resolves(config):
    models = list(model_configs(yaml.safe_load(config.read_text())))
    unique = {(a, yaml.safe_dump(p, sort_keys=True)): (w, a, p) for w, a, p in models}
    checked = 0
    for where, architecture, params in unique.values():
        if architecture in BESSEL:
            continue
        if architecture in ARCHITECTURES:
            model = build_model(architecture, params)
        else:
            assert architecture in FORCE_ARCHITECTURES, where
            model = build_force_model(architecture, params)
        cosine = model.distance_cosine  # None: a learned or unexpanded ForceNet basis
        if cosine is not None:
            assert cosine < MAX_COSINE, f"{config.name}{where}: cosine {cosine:.4f}"
            checked += 1
    assert checked > 0
