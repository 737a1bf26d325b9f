"""Writing figures atomically, in every format their paths name."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from crystalbench.core.io import atomic_path  # noqa: E402


def save_figure(fig: plt.Figure, paths: Sequence[str | os.PathLike]) -> None:
    for path in paths:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=Path(path).suffix.lstrip("."), dpi=150, bbox_inches="tight")
    plt.close(fig)
