"""Command-line arguments shared by the crystal and force training jobs."""

from __future__ import annotations

import argparse

from crystalbench.core.numerics import PRECISIONS, Numerics


def add_training_job_arguments(s: argparse.ArgumentParser) -> None:
    """Arguments of one training job (crystal or force model): data, fold, model, output and
    how it computes."""
    s.add_argument("--graphs", required=True)
    s.add_argument("--splits", required=True)
    s.add_argument("--fold", type=int, required=True)
    s.add_argument("--model", required=True, help="model config as JSON")
    s.add_argument("--out-dir", required=True)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--jobs-per-gpu", type=int, default=1,
                   help="training jobs sharing one GPU (picks a free GPU slot on a machine "
                        "with several)")
    s.add_argument("--precision", default="float32", choices=list(PRECISIONS),
                   help="autocast of the forward passes (float16: CUDA only, with gradient "
                        "scaling)")
    s.add_argument("--tf32", action="store_true", help="TF32 matmuls on CUDA")
    s.add_argument("--fused-adam", action="store_true", help="Adam/AdamW as one fused kernel")
    s.add_argument("--deterministic", action="store_true",
                   help="deterministic kernels on CUDA too (always on for CPU)")


def numerics_of(args: argparse.Namespace) -> Numerics:
    """The job's execution settings from the parsed arguments."""
    return Numerics(args.precision, args.tf32, args.fused_adam, args.deterministic)
