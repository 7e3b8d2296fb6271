"""Proportions with Wilson score intervals (Wilson 1927; Newcombe 1998, method 3).

    limits = (2 O + z^2 -/+ z sqrt(z^2 + 4 O (1 - O/n))) / (2 (n + z^2))

This is the form PHEindicatormethods and the APHO technical guide use; a non-integer numerator
is allowed (it may be a weighted count).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from joinedup.measures.stats.confidence import two_sided_z
from joinedup.measures.stats.interval import (
    FloatArray,
    Interval,
    all_scalar,
    as_float_array,
    make_interval,
)


def wilson_limits(
    numerator: ArrayLike, denominator: ArrayLike, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Wilson score limits on the 0-1 proportion scale."""
    observed = as_float_array(numerator, "numerator")
    total = as_float_array(denominator, "denominator")
    z = two_sided_z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = 2.0 * observed + z * z
        spread = z * np.sqrt(z * z + 4.0 * observed * (1.0 - observed / total))
        scale = 2.0 * (total + z * z)
        return (centre - spread) / scale, (centre + spread) / scale


def _check_proportion_inputs(numerator: FloatArray, denominator: FloatArray) -> None:
    known = ~(np.isnan(numerator) | np.isnan(denominator))
    if np.any(numerator[known] < 0):
        raise ValueError("numerators must be 0 or more")
    if np.any(denominator[known] <= 0):
        raise ValueError("denominators must be greater than 0")
    if np.any(numerator[known] > denominator[known]):
        raise ValueError(
            "a numerator is larger than its denominator; a proportion needs numerator <= "
            "denominator (use rate_ci for rates)"
        )


def proportion_ci(
    numerator: ArrayLike,
    denominator: ArrayLike,
    confidence: float = 0.95,
    *,
    multiplier: float = 1.0,
) -> Interval:
    """Proportion ``numerator / denominator`` with its Wilson score interval.

    Vectorised over arrays; scalars in give floats out. NA in either input gives NA out.
    ``multiplier=100`` reports percentages.

    >>> proportion_ci(65, 100)
    Interval(value=0.65, lower=0.5525444329688797, upper=0.7363575175690247)
    """
    observed = np.atleast_1d(as_float_array(numerator, "numerator"))
    total = np.atleast_1d(as_float_array(denominator, "denominator"))
    observed, total = np.broadcast_arrays(observed, total)
    _check_proportion_inputs(observed, total)
    lower, upper = wilson_limits(observed, total, confidence)
    value = observed / total
    return make_interval(
        value * multiplier,
        lower * multiplier,
        upper * multiplier,
        scalar=all_scalar(numerator, denominator),
    )
