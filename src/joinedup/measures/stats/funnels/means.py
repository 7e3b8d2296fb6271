"""Funnel-plot control limits and significance for means of a continuous measure.

Fingertips publishes no funnel for means; this follows the normal approximation of
Spiegelhalter, "Funnel plots for comparing institutional performance", Statistics in Medicine
24 (2005) 1185-1202, section 3.2: the target is the overall mean (each area's mean weighted by
its count), its spread the pooled within-area standard deviation s, and the limits at ``n`` units
are ``target -/+ z s / sqrt(n)`` with z = 1.96 (95%) and 3.09 (99.8%). An area is significant
when its mean lies outside the limits at its own count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtri

from joinedup.measures.stats.funnels.axis import axis_points, axis_range
from joinedup.measures.stats.funnels.labels import significance_labels
from joinedup.measures.stats.interval import FloatArray, as_float_array

#: Two-sided 95% and 99.8% normal quantiles (p = 0.025 and 0.001 in each tail).
Z_95 = float(ndtri(0.975))
Z_998 = float(ndtri(0.999))


@dataclass(frozen=True)
class MeanFunnel:
    """Limits at each of the 100 axis points (counts of units), around ``target``."""

    target: float
    pooled_sd: float
    count: FloatArray
    lower_95: FloatArray
    upper_95: FloatArray
    lower_998: FloatArray
    upper_998: FloatArray


def _inputs(
    count: ArrayLike, mean: ArrayLike, sd: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    n = np.atleast_1d(as_float_array(count, "count"))
    m = np.atleast_1d(as_float_array(mean, "mean"))
    s = np.atleast_1d(as_float_array(sd, "sd"))
    if np.isnan(n).any() or np.isnan(m).any() or np.isnan(s).any():
        raise ValueError("funnel inputs contain NA; drop those rows first")
    if np.any(n < 2):
        raise ValueError("each area needs at least 2 units for a standard deviation")
    return n, m, s


def _centre(n: FloatArray, m: FloatArray, s: FloatArray) -> tuple[float, float]:
    target = float(np.sum(n * m) / np.sum(n))
    pooled_sd = float(np.sqrt(np.sum((n - 1.0) * s * s) / np.sum(n - 1.0)))
    return target, pooled_sd


def mean_funnel_limits(count: ArrayLike, mean: ArrayLike, sd: ArrayLike) -> MeanFunnel:
    n, m, s = _inputs(count, mean, sd)
    target, pooled_sd = _centre(n, m, s)
    axis = axis_points(*axis_range(n))
    spread = pooled_sd / np.sqrt(axis)
    return MeanFunnel(
        target=target,
        pooled_sd=pooled_sd,
        count=axis,
        lower_95=target - Z_95 * spread,
        upper_95=target + Z_95 * spread,
        lower_998=target - Z_998 * spread,
        upper_998=target + Z_998 * spread,
    )


def mean_funnel_significance(count: ArrayLike, mean: ArrayLike, sd: ArrayLike) -> NDArray[np.str_]:
    """Each area's label against the limits at its own count."""
    n, m, s = _inputs(count, mean, sd)
    target, pooled_sd = _centre(n, m, s)
    z = (m - target) / (pooled_sd / np.sqrt(n)) if pooled_sd > 0 else np.zeros_like(m)
    return significance_labels(
        low_998=z < -Z_998,
        low_95=z < -Z_95,
        high_998=z > Z_998,
        high_95=z > Z_95,
        low_first=True,
    )
