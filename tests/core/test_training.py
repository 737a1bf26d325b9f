"""Shared training plumbing: what ``prepare_torch`` sets up for every trainer."""

import torch

from crystalbench.core.numerics import DEFAULT_NUMERICS
from crystalbench.core.training import prepare_torch
from crystalbench.models.forcenet_basis import EdgeBasis


def test_prepare_torch_flushes_subnormals_on_cpu():
    """ForceNet's gauss basis produces subnormal tails (exp(-1200 d^2) below 1.2e-38), which
    slow CPU matrix kernels severalfold; after prepare_torch they are zeros."""
    torch.set_flush_denormal(False)
    try:
        unit = torch.tensor([[0.0, 0.0, 1.0]])
        terms = torch.tensor([[0.42, 0.2, 0.2, 0.01]])
        features = EdgeBasis("gauss")(unit, terms)
        subnormal = (features > 0) & (features < torch.finfo(torch.float32).tiny)
        assert subnormal.any()  # control: without flushing the tails are subnormal
        dev, _ = prepare_torch("cpu", 1, 0, DEFAULT_NUMERICS)
        assert dev == torch.device("cpu")
        features = EdgeBasis("gauss")(unit, terms)
        assert not ((features > 0) & (features < torch.finfo(torch.float32).tiny)).any()
    finally:
        torch.set_flush_denormal(True)
