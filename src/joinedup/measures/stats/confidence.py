"""Confidence levels and their normal quantiles.

PHEindicatormethods accepts a confidence level as a fraction (0.95, 0.998) or as a percentage
(95, 99.8); the two Fingertips levels are 95% and 99.8%.
"""

from __future__ import annotations

from scipy.special import ndtri


def confidence_fraction(confidence: float) -> float:
    """Return the confidence level as a fraction in (0, 1); percentages are accepted too."""
    level = float(confidence)
    if 1.0 < level < 100.0:
        level /= 100.0
    if not 0.0 < level < 1.0:
        raise ValueError(
            f"confidence must be a fraction in (0, 1) such as 0.95 or 0.998, or a percentage "
            f"such as 95 or 99.8; got {confidence!r}"
        )
    return level


def two_sided_z(confidence: float) -> float:
    """z = qnorm(1 - (1 - confidence) / 2), the normal quantile of a two-sided interval."""
    return float(ndtri(1.0 - (1.0 - confidence_fraction(confidence)) / 2.0))
