"""Confidence limits for a Poisson count: Byar's approximation and the exact (chi-square) interval.

Byar's method (Breslow & Day 1987, vol. II, p. 69), as PHE's "Technical Guide: Confidence
Intervals" (APHO 2008) gives it:
    lower = O (1 - 1/(9 O) - z / (3 sqrt O))^3
    upper = (O + 1) (1 - 1/(9 (O + 1)) + z / (3 sqrt(O + 1)))^3
Exact interval (Garwood 1936): lower = chi2(alpha/2; 2 O) / 2,
upper = chi2(1 - alpha/2; 2 O + 2) / 2.
Fingertips uses the exact interval when O < 10 and Byar's otherwise.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import chdtri

from joinedup.measures.stats.confidence import confidence_fraction, two_sided_z
from joinedup.measures.stats.interval import FloatArray, as_float_array

EXACT_BELOW = 10  # Fingertips switches from the exact interval to Byar's at 10 events


def byars_lower(count: ArrayLike, confidence: float = 0.95) -> FloatArray:
    """Byar's lower limit on the count; NA where the approximation goes negative (tiny counts)."""
    observed = as_float_array(count, "count")
    z = two_sided_z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = observed * (1.0 - 1.0 / (9.0 * observed) - z / (3.0 * np.sqrt(observed))) ** 3
    return np.where(lower < 0, np.nan, lower)


def byars_upper(count: ArrayLike, confidence: float = 0.95) -> FloatArray:
    """Byar's upper limit on the count."""
    shifted = as_float_array(count, "count") + 1.0
    z = two_sided_z(confidence)
    with np.errstate(invalid="ignore"):
        return np.asarray(
            shifted * (1.0 - 1.0 / (9.0 * shifted) + z / (3.0 * np.sqrt(shifted))) ** 3,
            dtype=np.float64,
        )


def exact_lower(count: ArrayLike, confidence: float = 0.95) -> FloatArray:
    """Exact Poisson lower limit on the count (0 when the count is 0)."""
    observed = as_float_array(count, "count")
    alpha = 1.0 - confidence_fraction(confidence)
    with np.errstate(invalid="ignore"):
        # chdtri(df, q) is the chi-square quantile at 1 - q.
        lower = chdtri(2.0 * observed, 1.0 - alpha / 2.0) / 2.0
    return np.where(observed == 0, 0.0, lower)


def exact_upper(count: ArrayLike, confidence: float = 0.95) -> FloatArray:
    """Exact Poisson upper limit on the count."""
    observed = as_float_array(count, "count")
    alpha = 1.0 - confidence_fraction(confidence)
    with np.errstate(invalid="ignore"):
        return np.asarray(chdtri(2.0 * observed + 2.0, alpha / 2.0) / 2.0, dtype=np.float64)


def count_limits(count: ArrayLike, confidence: float = 0.95) -> tuple[FloatArray, FloatArray]:
    """Limits on a count the Fingertips way: exact below 10 events, Byar's from 10 upwards."""
    observed = np.atleast_1d(as_float_array(count, "count"))
    lower, upper = byars_lower(observed, confidence), byars_upper(observed, confidence)
    # The chi-square quantile is costly, so only the few small counts pay for it.
    small = observed < EXACT_BELOW
    lower[small] = exact_lower(observed[small], confidence)
    upper[small] = exact_upper(observed[small], confidence)
    return lower, upper
