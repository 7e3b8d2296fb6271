"""Significance labels Fingertips gives a point against funnel-plot control limits."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

HIGH_998 = "High (0.001)"
HIGH_95 = "High (0.025)"
LOW_998 = "Low (0.001)"
LOW_95 = "Low (0.025)"
NOT_SIGNIFICANT = "Not significant"
DSR_TOO_FEW_EVENTS = "Not applicable for events less than 10 for dsrs"


def significance_labels(
    *,
    low_998: NDArray[np.bool_],
    low_95: NDArray[np.bool_],
    high_998: NDArray[np.bool_],
    high_95: NDArray[np.bool_],
    low_first: bool,
) -> NDArray[np.str_]:
    """First matching label; proportions test the low side first, Poisson funnels the high."""
    low = [(low_998, LOW_998), (low_95, LOW_95)]
    high = [(high_998, HIGH_998), (high_95, HIGH_95)]
    ordered = low + high if low_first else high + low
    return np.select(
        [condition for condition, _ in ordered],
        [label for _, label in ordered],
        default=NOT_SIGNIFICANT,
    )
