"""Whether a fixed distance expansion can tell neighbour distances apart.

A basis whose features barely change between two distances hides the geometry from the
model however long it trains: a power-sine basis whose highest frequency is a few radians per
cutoff, or a handful of wide Gaussians, maps 2.5 Å and 2.8 Å onto nearly the same vector.
``distance_cosine`` measures this as the largest cosine similarity between the expansions of
``d`` and ``d + gap`` over the distances a graph holds; models call ``check_resolution`` when
they are built, so a blind basis is named in the log with the keys that control it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

from crystalbench.core.validation import DEFAULT_MIN_DISTANCE as MIN_DISTANCE

log = logging.getLogger(__name__)

RESOLVED_GAP = 0.3  # Å: two neighbour distances this far apart must look different
MAX_COSINE = 0.98  # largest cosine similarity allowed between their expansions


def distance_cosine(expand: Callable[[torch.Tensor], torch.Tensor], lo: float, hi: float,
                    gap: float = RESOLVED_GAP, samples: int = 256) -> float:
    """Largest cosine similarity between ``expand(d)`` and ``expand(d + gap)`` for ``d`` in
    ``[lo, hi - gap]`` (Å); ``expand`` maps (n,) distances to (n, features)."""
    d = torch.linspace(lo, hi - gap, samples, dtype=torch.float64)
    with torch.no_grad():
        a, b = expand(d).double(), expand(d + gap).double()
    return float(torch.nn.functional.cosine_similarity(a, b, dim=1, eps=1e-12).max())


def check_resolution(expand: Callable[[torch.Tensor], torch.Tensor], hi: float,
                     what: str) -> float:
    """``distance_cosine`` over [MIN_DISTANCE, hi]; logs a warning naming ``what`` (the basis
    and the keys that set it) when the basis cannot separate distances RESOLVED_GAP apart."""
    cosine = distance_cosine(expand, MIN_DISTANCE, hi)
    if cosine > MAX_COSINE:
        log.warning("%s cannot tell distances %.1f Å apart on [%.1f, %.1f] Å: their features "
                    "have cosine similarity up to %.4f (> %.2f); widen or sharpen the basis",
                    what, RESOLVED_GAP, MIN_DISTANCE, hi, cosine, MAX_COSINE)
    return cosine
