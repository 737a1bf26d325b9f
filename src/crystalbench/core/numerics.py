"""How a training job computes, apart from what it trains: precision, TF32, fused Adam and
deterministic kernels. These are execution settings, like the device: they are chosen per
machine (config ``train:``), not per model, and a run resumed under other settings continues.

The defaults are float32, no TF32, the loop Adam and deterministic kernels on CPU only, which
keeps CPU runs bit-reproducible. ``precision: bfloat16`` autocasts the forward pass on CPU and
CUDA (the models' scatter sums accumulate in float32); ``float16`` adds gradient scaling and is
honoured on CUDA only. ``deterministic: true`` extends deterministic kernels to CUDA.
"""

from __future__ import annotations

import contextlib
import logging
import os
from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch

log = logging.getLogger(__name__)

PRECISIONS = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# cuBLAS needs a fixed workspace to be deterministic; read when cuBLAS first starts
CUBLAS_DETERMINISTIC_WORKSPACE = ":4096:8"


@dataclass(frozen=True)
class Numerics:
    """Execution settings of a training job (see the module docstring)."""

    precision: str = "float32"
    tf32: bool = False
    fused_adam: bool = False
    deterministic: bool = False

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"train.precision: unknown precision {self.precision!r} "
                             f"(one of {', '.join(PRECISIONS)})")

    def unsupported_on(self, dev: torch.device) -> list[str]:
        """Why ``dev`` cannot honour some of these settings (float16 and TF32 are CUDA-only);
        empty when it honours them all."""
        if dev.type == "cuda":
            return []
        return ([f"train.precision float16 is CUDA-only; training on {dev} in float32"]
                * (self.precision == "float16")
                + [f"train.tf32 applies to CUDA matmuls only; ignored on {dev}"] * self.tf32)

    def on(self, dev: torch.device) -> Numerics:
        """These settings as ``dev`` honours them: a request it cannot honour is logged and
        dropped rather than silently ignored."""
        reasons = self.unsupported_on(dev)
        for reason in reasons:
            log.warning(reason)
        if not reasons:
            return self
        return Numerics("float32" if self.precision == "float16" else self.precision, False,
                        self.fused_adam, self.deterministic)

    def configure(self, dev: torch.device) -> None:
        """Set the process-wide switches: deterministic kernels (always on CPU, on CUDA when
        asked) and TF32 matmuls and convolutions."""
        if dev.type == "cpu" or self.deterministic:
            if dev.type == "cuda":
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_DETERMINISTIC_WORKSPACE)
                torch.backends.cudnn.benchmark = False
            torch.use_deterministic_algorithms(True)
        if dev.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = self.tf32
            torch.backends.cudnn.allow_tf32 = self.tf32

    def autocast(self, dev: torch.device) -> AbstractContextManager:
        """The forward pass's autocast context; a no-op in float32."""
        if self.precision == "float32":
            return contextlib.nullcontext()
        return torch.autocast(dev.type, dtype=PRECISIONS[self.precision])

    def grad_scaler(self, dev: torch.device) -> torch.amp.GradScaler | None:
        """Gradient scaling, needed by float16 only (bfloat16 has float32's range)."""
        return torch.amp.GradScaler(dev.type) if self.precision == "float16" else None

    def adam(self, parameters: list[torch.Tensor], lr: float,
             weight_decay: float | None = None) -> torch.optim.Optimizer:
        """Adam (or AdamW with ``weight_decay``), fused into one kernel when asked."""
        fused = True if self.fused_adam else None
        if weight_decay is None:
            return torch.optim.Adam(parameters, lr=lr, fused=fused)
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay, fused=fused)


DEFAULT_NUMERICS = Numerics()  # float32, no TF32, loop Adam; deterministic on CPU only
