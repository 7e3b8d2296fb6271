"""Means with Student's t confidence intervals: mean -/+ t(n-1) s / sqrt(n), s the sample SD."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import stdtrit

from joinedup.measures.stats.confidence import confidence_fraction
from joinedup.measures.stats.groups import Groups
from joinedup.measures.stats.interval import FloatArray, Interval, as_float_array, make_interval


def mean_ci(
    values: ArrayLike,
    *,
    group: ArrayLike | Groups | None = None,
    confidence: float = 0.95,
) -> Interval:
    """Mean of each group's values with its Student t interval (NA for groups of one).

    NA values make their group NA, as in PHEindicatormethods; drop them first to ignore them.
    """
    data = np.atleast_1d(as_float_array(values, "values"))
    groups = Groups.of(group, len(data))
    n = groups.count().astype(np.float64)
    mean, sd = _mean_sd(data, groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = stdtrit(n - 1.0, 1.0 - (1.0 - confidence_fraction(confidence)) / 2.0)
        half_width = t * sd / np.sqrt(n)
    return make_interval(mean, mean - half_width, mean + half_width, scalar=group is None)


def standard_deviation(values: ArrayLike, *, group: ArrayLike | Groups | None = None) -> FloatArray:
    """Each group's sample standard deviation (n - 1 divisor; NA for groups of one), in the
    order of the sorted group labels, as :func:`mean_ci` returns its groups."""
    data = np.atleast_1d(as_float_array(values, "values"))
    return _mean_sd(data, Groups.of(group, len(data)))[1]


def _mean_sd(data: FloatArray, groups: Groups) -> tuple[FloatArray, FloatArray]:
    n = groups.count().astype(np.float64)
    mean = groups.sum(data) / n
    # Two passes (mean, then squared deviations) keep the variance accurate for large values.
    deviations = data - mean[groups.codes]
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.sqrt(groups.sum(deviations * deviations) / (n - 1.0))
    return mean, sd
