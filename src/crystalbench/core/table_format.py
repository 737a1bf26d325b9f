"""The one rounding rule of every table cell the pipeline writes, so that the same count reads
the same in every table."""

from __future__ import annotations

import numpy as np


def number(v: object) -> str:
    """One rounding rule for every table cell: counts in full with thousands separators,
    other numbers to 3-4 significant digits without exponents ("-" for none)."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return f"{v:,}"
    if isinstance(v, (float, np.floating)):
        if np.isnan(v):
            return "-"
        if float(v).is_integer() and abs(v) >= 1:
            return f"{int(v):,}"
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.3g}"
    return str(v)
