"""Writing figures atomically, in every format their paths name, and checking that their
text is readable: inside the figure, not on top of other text, and large enough at the width
the report shows the figure at."""

from __future__ import annotations

import itertools
import logging
import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from crystalbench.core.io import atomic_path  # noqa: E402

log = logging.getLogger(__name__)

SAVE_DPI = 150
# width at which a reader sees a figure (the report's image column on a laptop screen, a
# README or a paper column); wider figures are shown scaled down, and their text with them
DISPLAY_WIDTH_PX = 1000
MIN_TEXT_PX = 9.0  # smallest readable text height on screen


def displayed_text_px(fig: plt.Figure, points: float) -> float:
    """Height in screen pixels of ``points``-size text once ``fig`` is saved at ``SAVE_DPI``
    and shown at most ``DISPLAY_WIDTH_PX`` wide."""
    width_px = fig.get_figwidth() * SAVE_DPI
    return points * SAVE_DPI / 72 * min(1.0, DISPLAY_WIDTH_PX / width_px)


def panel_grid(n: int, panel: tuple[float, float] = (3.6, 3.4),
               max_columns: int = 3) -> tuple[plt.Figure, list[plt.Axes]]:
    """A figure of ``n`` panels in rows of at most ``max_columns``, so that a study with many
    rows stays readable at the display width (unused grid cells are removed)."""
    columns = min(n, max_columns)
    rows = -(-n // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(panel[0] * columns, panel[1] * rows),
                             squeeze=False, layout="constrained")
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.remove()
    return fig, flat[:n]


def text_problems(fig: plt.Figure, tolerance: float = 1.0) -> list[str]:
    """Visible text of ``fig`` that leaves the figure, overlaps other text (by more than
    ``tolerance`` pixels each way) or is smaller than ``MIN_TEXT_PX`` at the display width,
    as readable sentences; empty when the text is clean."""
    renderer = fig.canvas.get_renderer()
    fig.draw_without_rendering()
    undrawn = set()  # tick labels matplotlib keeps but does not draw: outside the view
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            slack = 1e-9 * max(abs(lo), abs(hi), 1.0)
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not lo - slack <= tick.get_loc() <= hi + slack:
                    undrawn.update((tick.label1, tick.label2))
    texts = [t for t in fig.findobj(Text) if t not in undrawn
             and t.get_visible() and t.get_text().strip() and t.figure is fig]
    boxes = [(t, t.get_window_extent(renderer)) for t in texts]
    frame = fig.bbox
    problems = [f"{t.get_text()!r} leaves the figure" for t, b in boxes
                if b.x0 < frame.x0 - tolerance or b.y0 < frame.y0 - tolerance
                or b.x1 > frame.x1 + tolerance or b.y1 > frame.y1 + tolerance]
    problems += [f"{t.get_text()!r} is {displayed_text_px(fig, t.get_fontsize()):.1f} px high "
                 f"when the figure is shown {DISPLAY_WIDTH_PX} px wide" for t, _ in boxes
                 if displayed_text_px(fig, t.get_fontsize()) < MIN_TEXT_PX]
    for (t1, b1), (t2, b2) in itertools.combinations(boxes, 2):
        dx = min(b1.x1, b2.x1) - max(b1.x0, b2.x0)
        dy = min(b1.y1, b2.y1) - max(b1.y0, b2.y0)
        if dx > tolerance and dy > tolerance:
            problems.append(f"{t1.get_text()!r} overlaps {t2.get_text()!r}")
    return problems


def figure_title(fig: plt.Figure, title: str) -> None:
    """``title`` above all panels, each line wrapped to the figure's width."""
    size = plt.rcParams["figure.titlesize"]
    points = size if isinstance(size, (int, float)) else 12.0
    width = max(20, int(fig.get_figwidth() * 72 / (0.55 * points)))  # ~0.55 em per character
    fig.suptitle("\n".join(textwrap.fill(line, width) for line in title.splitlines()))


def save_figure(fig: plt.Figure, paths: Sequence[str | os.PathLike]) -> None:
    """Save ``fig`` to each path (format from the suffix); text problems are logged."""
    for problem in text_problems(fig):
        log.warning("%s: %s", Path(paths[0]).name, problem)
    for path in paths:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=Path(path).suffix.lstrip("."), dpi=SAVE_DPI,
                        bbox_inches="tight")
    plt.close(fig)
