"""Crude rates with exact Poisson (fewer than 10 events) or Byar's confidence limits."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from joinedup.measures.stats.interval import Interval, all_scalar, as_float_array, make_interval
from joinedup.measures.stats.poisson import count_limits


def rate_ci(
    count: ArrayLike,
    denominator: ArrayLike,
    confidence: float = 0.95,
    per: float = 100_000,
) -> Interval:
    """Rate ``count / denominator * per`` with exact (< 10 events) or Byar's limits.

    The count may exceed the denominator (events per person-year). NA in gives NA out.

    >>> rate_ci(65, 100, per=100)
    Interval(value=65.0, lower=50.16318771045943, upper=82.84913854593984)
    """
    return scaled_count_ci(count, denominator, confidence, per, names=("count", "denominator"))


def scaled_count_ci(
    count: ArrayLike,
    base: ArrayLike,
    confidence: float,
    per: float,
    *,
    names: tuple[str, str],
) -> Interval:
    """``count / base * per`` with exact (< 10) or Byar's limits on the count.

    The shared core of crude rates (base: population) and indirectly standardised ratios
    (base: expected events); ``names`` label the inputs in error messages.
    """
    events = np.atleast_1d(as_float_array(count, names[0]))
    scale_base = np.atleast_1d(as_float_array(base, names[1]))
    events, scale_base = np.broadcast_arrays(events, scale_base)
    known = ~(np.isnan(events) | np.isnan(scale_base))
    if np.any(events[known] < 0):
        raise ValueError(f"{names[0]} must be 0 or more")
    if np.any(scale_base[known] <= 0):
        raise ValueError(f"{names[1]} must be greater than 0")
    lower, upper = count_limits(events, confidence)
    scale = per / scale_base
    return make_interval(
        events * scale, lower * scale, upper * scale, scalar=all_scalar(count, base)
    )
