"""Life expectancy from an abridged life table (Chiang II) with Silcocks' open-band variance.

Bands start at ages 0, 1, 5, 10, ..., 90 (90+ open). With population P_i, deaths D_i, width
n_i and a_i the fraction of the band lived by those who die in it (0.1 in the first year of
life, otherwise 0.5):
    M_i = D_i / P_i;  q_i = n_i M_i / (1 + n_i (1 - a_i) M_i), q = 1 in the open band;
    l_0 = 100,000, l_{i+1} = l_i (1 - q_i);  L_i = n_i (l_{i+1} + a_i d_i), L_90+ = l_90 / M_90;
    e_x = sum_{i >= x} L_i / l_x.
Variance (Chiang 1984, with Silcocks, Jenner & Reza 2001 for the open band):
    var(q_i) = n_i^2 M_i (1 - a_i n_i M_i) / (P_i (1 + (1 - a_i) n_i M_i)^3),
    var(e_x) = [sum_{x <= i < 90} l_i^2 ((1 - a_i) n_i + e_{i+1})^2 var(q_i)
                + l_90^2 / (M_90^2 D_90)] / l_x^2,
the last term being l_90^2 var(1 / M_90) with var(M_90) = D_90 / P_90^2.
Public Health England's method (PHEindicatormethods 2.1 ``phe_life_expectancy``): areas with
invalid input (a band with no population, deaths above population, negative numbers, a total
population of 5,000 or less, a missing band) get NA throughout; a value whose 95% interval is
wider than 20 years is suppressed (NA) while its limits are still given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from joinedup.measures.stats.confidence import two_sided_z
from joinedup.measures.stats.groups import Groups
from joinedup.measures.stats.interval import FloatArray, as_float_array

START_AGES: tuple[int, ...] = (0, 1, *range(5, 95, 5))
WIDTHS = np.diff(np.asarray((*START_AGES, 95), dtype=np.float64))  # the open band's is unused
FRACTION_LIVED = np.where(np.asarray(START_AGES) == 0, 0.1, 0.5)
RADIX = 100_000.0
MINIMUM_TOTAL_POPULATION = 5_000
MAXIMUM_CI_WIDTH = 20.0


@dataclass(frozen=True)
class LifeExpectancy:
    """One row per group x start age (groups in sorted label order, ages ascending)."""

    group: NDArray[Any]
    start_age: NDArray[np.int_]
    value: FloatArray
    lower: FloatArray
    upper: FloatArray
    population_used: FloatArray
    deaths_used: FloatArray


def _backwards_cumsum(values: FloatArray) -> FloatArray:
    return np.asarray(np.cumsum(values[:, ::-1], axis=1)[:, ::-1], dtype=np.float64)


def life_expectancy(
    start_age: ArrayLike,
    population: ArrayLike,
    deaths: ArrayLike,
    *,
    group: ArrayLike | Groups | None = None,
    confidence: float = 0.95,
) -> LifeExpectancy:
    """Life expectancy at every band's start age, per group, from one row per (group, band)."""
    ages = np.atleast_1d(as_float_array(start_age, "start_age"))
    pop = np.atleast_1d(as_float_array(population, "population"))
    dead = np.atleast_1d(as_float_array(deaths, "deaths"))
    groups = Groups.of(group, len(ages))
    bands = len(START_AGES)
    band = np.searchsorted(np.asarray(START_AGES, dtype=np.float64), ages)
    known_age = (band < bands) & (np.asarray((*START_AGES, -1))[np.minimum(band, bands)] == ages)
    if not known_age.all():
        raise ValueError(f"start ages must be among {START_AGES}")

    shape = (groups.size, bands)
    P = np.full(shape, np.nan)
    D = np.full(shape, np.nan)
    rows_per_cell = np.zeros(shape, dtype=int)
    np.add.at(rows_per_cell, (groups.codes, band), 1)
    P[groups.codes, band] = pop
    D[groups.codes, band] = dead
    valid = (
        np.all(rows_per_cell == 1, axis=1)
        & np.all(P > 0, axis=1)
        & np.all(D >= 0, axis=1)
        & np.all(D <= P, axis=1)
        & (np.nansum(P, axis=1) > MINIMUM_TOTAL_POPULATION)
    )
    P[~valid] = np.nan

    n, a = WIDTHS, FRACTION_LIVED
    with np.errstate(divide="ignore", invalid="ignore"):
        M = D / P
        q = n * M / (1.0 + n * (1.0 - a) * M)
        q[:, -1] = 1.0
        survivors = RADIX * np.cumprod(np.c_[np.ones(len(q)), 1.0 - q[:, :-1]], axis=1)
        dying = survivors * q
        following = np.c_[survivors[:, 1:], np.zeros(len(q))]
        years = n * (following + a * dying)
        years[:, -1] = survivors[:, -1] / M[:, -1]
        expectancy = _backwards_cumsum(years) / survivors

        var_q = n * n * M * (1.0 - a * n * M) / (P * (1.0 + (1.0 - a) * n * M) ** 3)
        next_e = np.c_[expectancy[:, 1:], np.zeros(len(q))]
        terms = survivors**2 * ((1.0 - a) * n + next_e) ** 2 * var_q
        terms[:, -1] = _open_band_term(survivors[:, -1], M[:, -1], D[:, -1])
        variance = _backwards_cumsum(terms) / survivors**2
        spread = two_sided_z(confidence) * np.sqrt(variance)
    lower, upper = expectancy - spread, expectancy + spread
    value = np.where(upper - lower > MAXIMUM_CI_WIDTH, np.nan, expectancy)
    return LifeExpectancy(
        group=np.repeat(groups.keys, bands),
        start_age=np.tile(np.asarray(START_AGES), groups.size),
        value=value.ravel(),
        lower=lower.ravel(),
        upper=upper.ravel(),
        population_used=_backwards_cumsum(P).ravel(),
        deaths_used=_backwards_cumsum(np.where(valid[:, None], D, np.nan)).ravel(),
    )


def _open_band_term(
    survivors: NDArray[np.floating[Any]],
    rate: NDArray[np.floating[Any]],
    deaths: NDArray[np.floating[Any]],
) -> FloatArray:
    """Silcocks et al. (2001): var(L_90+) = l_90^2 var(1 / M) ~ l_90^2 / M^4 * M^2 / D."""
    return np.asarray(survivors**2 / (rate**2 * deaths), dtype=np.float64)
