import logging
import os

import pytest
import torch

from crystalbench.core.numerics import CUBLAS_DETERMINISTIC_WORKSPACE, Numerics

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.fixture
def restore_switches(monkeypatch):
    """configure() sets process-wide switches: put them back after the test."""
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    saved = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark,
             torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    yield
    torch.use_deterministic_algorithms(saved[0])
    (torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32,
     torch.backends.cudnn.allow_tf32) = saved[1:]


def test_unknown_precision_is_refused_with_the_config_key():
    with pytest.raises(ValueError, match="train.precision: unknown precision 'half'"):
        Numerics("half")


def test_cpu_drops_the_cuda_only_settings_and_says_so(caplog):
    asked = Numerics("float16", tf32=True, fused_adam=True, deterministic=True)
    with caplog.at_level(logging.WARNING, logger="crystalbench.core.numerics"):
        assert asked.on(CPU) == Numerics("float32", False, True, True)
    assert "float16 is CUDA-only" in caplog.text and "train.tf32" in caplog.text
    assert asked.on(CUDA) == asked
    assert Numerics("bfloat16").on(CPU) == Numerics("bfloat16")  # bfloat16 runs on CPU


def test_cpu_is_always_deterministic(restore_switches):
    torch.use_deterministic_algorithms(False)
    Numerics(deterministic=False).configure(CPU)
    assert torch.are_deterministic_algorithms_enabled()


def test_cuda_switches(restore_switches):
    """The CUDA settings are process switches that need no GPU to set."""
    torch.use_deterministic_algorithms(False)
    Numerics(tf32=True).configure(CUDA)
    assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    assert not torch.are_deterministic_algorithms_enabled()
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    Numerics(deterministic=True).configure(CUDA)
    assert torch.are_deterministic_algorithms_enabled()
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == CUBLAS_DETERMINISTIC_WORKSPACE
    assert not torch.backends.cudnn.benchmark and not torch.backends.cuda.matmul.allow_tf32


def test_autocast_and_scaler_follow_the_precision():
    layer = torch.nn.Linear(4, 4)
    x = torch.randn(2, 4)
    for precision, dtype in [("float32", torch.float32), ("bfloat16", torch.bfloat16)]:
        with Numerics(precision).autocast(CPU):
            assert layer(x).dtype == dtype
    assert Numerics("bfloat16").grad_scaler(CPU) is None  # float32's range: nothing to scale
    assert isinstance(Numerics("float16").grad_scaler(CPU), torch.amp.GradScaler)


@pytest.mark.parametrize("weight_decay", [None, 0.01])
def test_fused_adam_matches_the_loop_adam(weight_decay):
    """Fused and loop Adam(W) take the same steps up to rounding."""
    results = []
    for fused in (False, True):
        torch.manual_seed(0)
        layer = torch.nn.Linear(8, 1)
        optimizer = Numerics(fused_adam=fused).adam(list(layer.parameters()), 1e-2, weight_decay)
        assert optimizer.defaults["fused"] is (True if fused else None)
        assert isinstance(optimizer, torch.optim.Adam if weight_decay is None
                          else torch.optim.AdamW)
        for step in range(20):
            x = torch.randn(16, 8, generator=torch.Generator().manual_seed(step))
            optimizer.zero_grad()
            layer(x).square().mean().backward()
            optimizer.step()
        results.append(torch.cat([p.detach().flatten() for p in layer.parameters()]))
    torch.testing.assert_close(results[0], results[1], rtol=1e-5, atol=1e-6)
