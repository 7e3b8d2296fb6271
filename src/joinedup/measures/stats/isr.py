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
    as_float_array,
)
from joinedup.measures.stats.rates import scaled_count_ci


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
    return scaled_count_ci(
        observed, expected, confidence, refvalue, names=("observed counts", "expected counts")
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
