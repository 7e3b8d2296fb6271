"""The 100 x-axis points at which Fingertips draws funnel-plot control limits.

The axis runs from a rounded-down minimum to a rounded-up maximum denominator, with points
spaced geometrically (closer together for small denominators) and at least 1 apart:
    x_1 = max(1, minimum); x_j = max(round((maximum / x_{j-1})^(1 / (101 - j + shift)) x_{j-1}),
                                     x_{j-1} + 1)
(PHEindicatormethods 2.1 ``calculate_funnel_limits``; ``shift`` is 1 for ratio funnels.)
The minimum is 0 when the largest denominator is more than twice the smallest.
"""

from __future__ import annotations

import math

import numpy as np

from joinedup.measures.stats.interval import FloatArray

AXIS_POINTS = 100


def _digits(number: float) -> int:
    return len(str(int(number)))


def round_down_for_axis(value: float, fraction: float = 0.95) -> float:
    """95% of ``value``, rounded down to its leading digit (e.g. 8,970 -> 8,000)."""
    if value == 0:
        return 0.0
    scaled = math.floor(value * fraction)
    unit = 10.0 ** (_digits(scaled) - 1)
    return math.floor(value * fraction / unit) * unit


def round_up_for_axis(value: float, fraction: float = 1.05) -> float:
    """105% of ``value``, rounded up to its two leading digits (e.g. 104,000 -> 110,000)."""
    if value == 0:
        return 0.0
    scaled = math.ceil(value * fraction)
    unit = 10.0 ** (_digits(scaled) - 2)
    return math.ceil(value * fraction / unit) * unit


def axis_range(denominators: FloatArray) -> tuple[float, float]:
    """(minimum, maximum) of the axis for these denominators (NA ignored)."""
    smallest, largest = float(np.nanmin(denominators)), float(np.nanmax(denominators))
    minimum = 0.0 if largest > 2 * smallest else round_down_for_axis(smallest)
    return minimum, round_up_for_axis(largest)


def axis_points(minimum: float, maximum: float, *, shift: int = 0) -> FloatArray:
    """The 100 axis points from ``minimum`` to about ``maximum``."""
    points = np.empty(AXIS_POINTS)
    points[0] = max(1.0, minimum)
    for j in range(2, AXIS_POINTS + 1):  # each point depends on the previous one
        previous = points[j - 2]
        step = (maximum / previous) ** (1.0 / (AXIS_POINTS + 1 - j + shift)) * previous
        points[j - 1] = max(float(np.round(step)), previous + 1.0)
    return points
