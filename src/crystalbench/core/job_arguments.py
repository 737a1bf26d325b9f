"""Command-line arguments shared by the crystal and force training jobs."""

from __future__ import annotations

import argparse


def add_training_job_arguments(s: argparse.ArgumentParser) -> None:
    """Arguments of one training job (crystal or force model): data, fold, model, output."""
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
