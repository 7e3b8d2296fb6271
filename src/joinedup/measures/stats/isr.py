"""Indirect standardisation: standardised ratios (e.g. SMR) and indirectly standardised rates.

Expected events E = sum_i n_i R_i / N_i, applying each age band's reference rate (reference
events R_i over reference population N_i) to the local population n_i. The ratio is O / E;
its limits are the exact (O < 10) or Byar's limits on O, divided by E. The indirectly
standardised rate is the ratio times the crude reference rate sum R / sum N.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from joinedup.measures.stats.groups import Groups
from joinedup.measures.stats.interval import (
    FloatArray,
    Interval,
    all_scalar,
    as_float_array,
    make_interval,
)
from joinedup.measures.stats.poisson import count_limits


def expected_events(
    population: ArrayLike,
    reference_count: ArrayLike,
    reference_population: ArrayLike,
    *,
    group: ArrayLike | Groups | None = None,
) -> FloatArray:
    """Expected events per group (sorted label order) from one row per (group, age band)."""
    pop = np.atleast_1d(as_float_array(population, "population"))
    ref_count = np.atleast_1d(as_float_array(reference_count, "reference_count"))
    ref_pop = np.atleast_1d(as_float_array(reference_population, "reference_population"))
    pop, ref_count, ref_pop = np.broadcast_arrays(pop, ref_count, ref_pop)
    if np.any(ref_pop <= 0):
        raise ValueError("every age band needs a reference population greater than 0")
    return Groups.of(group, len(pop)).sum(pop * ref_count / ref_pop)


def isratio_ci(
    observed: ArrayLike,
    expected: ArrayLike,
    confidence: float = 0.95,
    *,
    refvalue: float = 1.0,
) -> Interval:
    """Indirectly standardised ratio O / E times ``refvalue`` (1, or 100 for SMRs as %)."""
    obs = np.atleast_1d(as_float_array(observed, "observed"))
    exp = np.atleast_1d(as_float_array(expected, "expected"))
    obs, exp = np.broadcast_arrays(obs, exp)
    known = ~(np.isnan(obs) | np.isnan(exp))
    if np.any(obs[known] < 0):
        raise ValueError("observed counts must be 0 or more")
    if np.any(exp[known] <= 0):
        raise ValueError("expected counts must be greater than 0")
    lower, upper = count_limits(obs, confidence)
    scale = refvalue / exp
    return make_interval(
        obs * scale, lower * scale, upper * scale, scalar=all_scalar(observed, expected)
    )


def israte_ci(
    observed: ArrayLike,
    expected: ArrayLike,
    reference_rate: float,
    confidence: float = 0.95,
) -> Interval:
    """Indirectly standardised rate: the ratio O / E times the crude reference rate.

    ``reference_rate`` is already per the wanted multiplier (e.g. sum R / sum N * 100,000).
    """
    return isratio_ci(observed, expected, confidence, refvalue=reference_rate)
