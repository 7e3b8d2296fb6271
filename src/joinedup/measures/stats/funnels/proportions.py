"""Funnel-plot control limits and significance for proportions (inverse Wilson score).

For a denominator n and the overall average proportion p, the limit is the proportion whose
Wilson score interval (z = qnorm(prob)) just reaches p: solving the Wilson bound for the
observed count gives a quadratic whose roots are the low and high limits,
    (p (n / z^2 + 1) -/+ sqrt(D)) / (1 / z^2 + 1 / n) / n,
    D = p^2 (n / z^2 + 1)^2 - (1 / z^2 + 1 / n) p (n (p (n / z^2 + 2) - 1) + z^2 (p - 1)).
Fingertips technical guidance, "Funnel plots" (PHE 2018); PHEindicatormethods 2.1. Limits are
drawn at the 95% (prob 0.975) and 99.8% (prob 0.999) levels and clamped to [0, 100].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtri

from joinedup.measures.stats.funnels.axis import axis_points, axis_range
from joinedup.measures.stats.funnels.labels import significance_labels
from joinedup.measures.stats.interval import FloatArray, as_float_array

PROB_95 = 0.975
PROB_998 = 0.999


def wilson_funnel_limits(
    prob: float, denominator: ArrayLike, average: float
) -> tuple[FloatArray, FloatArray]:
    """Low and high control limits (0-1 scale) for a proportion at each denominator."""
    n = as_float_array(denominator, "denominator")
    z2 = float(ndtri(prob)) ** 2
    centre = average * (n / z2 + 1.0)
    scale = 1.0 / z2 + 1.0 / n
    discriminant = centre * centre - scale * average * (
        n * (average * (n / z2 + 2.0) - 1.0) + z2 * (average - 1.0)
    )
    root = np.sqrt(discriminant)
    return (centre - root) / scale / n, (centre + root) / scale / n


@dataclass(frozen=True)
class ProportionFunnel:
    """Control limits at 100 denominators, on the ``multiplier`` scale."""

    population: FloatArray
    lower_95: FloatArray
    upper_95: FloatArray
    lower_998: FloatArray
    upper_998: FloatArray
    baseline: float


def _check(numerator: FloatArray, denominator: FloatArray) -> None:
    if np.isnan(numerator).any() or np.isnan(denominator).any():
        raise ValueError("funnel inputs contain NA; drop those rows first")
    if np.any(numerator < 0) or np.any(denominator <= 0):
        raise ValueError("numerators must be 0 or more and denominators greater than 0")
    if np.any(numerator > denominator):
        raise ValueError("numerators must not exceed denominators for a proportion funnel")


def proportion_funnel_limits(
    numerator: ArrayLike, denominator: ArrayLike, *, multiplier: float = 100.0
) -> ProportionFunnel:
    """Funnel limits for all areas' proportions; the baseline is sum(num) / sum(den)."""
    num = np.atleast_1d(as_float_array(numerator, "numerator"))
    den = np.atleast_1d(as_float_array(denominator, "denominator"))
    _check(num, den)
    average = float(num.sum() / den.sum())
    population = axis_points(*axis_range(den))
    low_95, high_95 = wilson_funnel_limits(PROB_95, population, average)
    low_998, high_998 = wilson_funnel_limits(PROB_998, population, average)

    def clamp(limit: FloatArray) -> FloatArray:
        # Fingertips clamps to 0-100 whatever the multiplier.
        return np.clip(limit * multiplier, 0.0, 100.0)

    return ProportionFunnel(
        population=population,
        lower_95=clamp(low_95),
        upper_95=clamp(high_95),
        lower_998=clamp(low_998),
        upper_998=clamp(high_998),
        baseline=average * multiplier,
    )


def proportion_funnel_significance(
    numerator: ArrayLike, denominator: ArrayLike
) -> NDArray[np.str_]:
    """Each area's label against limits around the overall average at its own denominator."""
    num = np.atleast_1d(as_float_array(numerator, "numerator"))
    den = np.atleast_1d(as_float_array(denominator, "denominator"))
    _check(num, den)
    average = float(num.sum() / den.sum())
    value = num / den
    low_95, high_95 = wilson_funnel_limits(PROB_95, den, average)
    low_998, high_998 = wilson_funnel_limits(PROB_998, den, average)
    return significance_labels(
        low_998=value < low_998,
        low_95=value < low_95,
        high_998=value > high_998,
        high_95=value > high_95,
        low_first=True,
    )
