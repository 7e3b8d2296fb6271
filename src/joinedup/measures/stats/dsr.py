"""Directly standardised rates with Dobson's confidence limits.

DSR = sum_i(w_i O_i / n_i) / sum_i(w_i) with standard population w, events O and population n
in age band i. Dobson et al. (1991) limits: with total count O = sum O_i and
var(DSR) = sum_i(w_i^2 var(O_i) / n_i^2) / (sum_i w_i)^2,
    limit = DSR + sqrt(var(DSR) / O) (L_O - O)
where L_O is Byar's lower/upper limit on O. For independent events var(O_i) = O_i. For
non-independent events (one person may have several), var(O_i) = sum_f f^2 P_if over the number
P_if of people with exactly f events (PHEindicatormethods 2.1, after Fingertips' method note).
Fingertips suppresses DSRs with fewer than 10 events in total: value and limits are NA.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from joinedup.measures.stats.groups import Groups
from joinedup.measures.stats.interval import FloatArray, Interval, as_float_array, make_interval
from joinedup.measures.stats.poisson import byars_lower, byars_upper

MINIMUM_TOTAL_COUNT = 10


def nonindependent_count_variance(event_frequency: ArrayLike, persons: ArrayLike) -> FloatArray:
    """Each row's contribution f^2 * P to var(O_i); sum it per age band for ``count_variance``."""
    frequency = as_float_array(event_frequency, "event_frequency")
    people = as_float_array(persons, "persons")
    return np.asarray(frequency * frequency * people, dtype=np.float64)


def dsr_ci(
    count: ArrayLike,
    population: ArrayLike,
    standard_population: ArrayLike,
    *,
    group: ArrayLike | Groups | None = None,
    confidence: float = 0.95,
    per: float = 100_000,
    count_variance: ArrayLike | None = None,
) -> Interval:
    """DSR per ``per`` for each group of age-band rows, with Dobson limits.

    One row per (group, age band). ``group`` labels the rows (results come in sorted label
    order); without it all rows form one group and the result holds floats.
    ``count_variance`` (per row) switches to non-independent events; see
    :func:`nonindependent_count_variance`. NA in a row makes its group NA.
    """
    events = as_float_array(count, "count")
    pop = as_float_array(population, "population")
    weight = as_float_array(standard_population, "standard_population")
    events, pop, weight = np.broadcast_arrays(
        np.atleast_1d(events), np.atleast_1d(pop), np.atleast_1d(weight)
    )
    known = ~(np.isnan(events) | np.isnan(pop))
    if np.any(events[known] < 0):
        raise ValueError("counts must be 0 or more")
    if np.any(pop[known] <= 0):
        raise ValueError("every age band needs a population greater than 0")
    variance = events if count_variance is None else as_float_array(count_variance, "variance")
    groups = Groups.of(group, len(events))

    total_weight = groups.sum(weight, "standard_population")
    total_count = groups.sum(events, "count")
    dsr = groups.sum(weight * events / pop) / total_weight
    var_dsr = groups.sum(weight * weight * variance / (pop * pop)) / (total_weight * total_weight)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.sqrt(var_dsr / total_count)
        lower = dsr + spread * (byars_lower(total_count, confidence) - total_count)
        upper = dsr + spread * (byars_upper(total_count, confidence) - total_count)
    suppressed = ~(total_count >= MINIMUM_TOTAL_COUNT)
    value, lower, upper = (np.where(suppressed, np.nan, a * per) for a in (dsr, lower, upper))
    return make_interval(value, lower, upper, scalar=group is None)
