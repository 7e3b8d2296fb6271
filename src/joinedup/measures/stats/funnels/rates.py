"""Funnel-plot control limits and significance for crude rates and DSRs.

The denominator of each area is derived from its events and rate, n = multiplier O / rate
(for crude rates an area with 0 events uses its real denominator; for DSRs it is left out).
The baseline is sum(O) / sum(n). Limits are drawn against events: at E events the 95% lower
limit is the rate at which E would just be significantly high, with the population on that
limit per year of data (PHEindicatormethods 2.1 ``calculate_funnel_limits``). DSRs with fewer
than 10 events get no significance label, as in Fingertips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from joinedup.measures.stats.funnels.axis import axis_points, axis_range
from joinedup.measures.stats.funnels.labels import DSR_TOO_FEW_EVENTS
from joinedup.measures.stats.funnels.poisson_inverse import FUNNEL_LINES, poisson_funnel_mean
from joinedup.measures.stats.funnels.ratios import poisson_significance
from joinedup.measures.stats.interval import FloatArray, as_float_array

RateType = Literal["dsr", "crude"]
DSR_MINIMUM_EVENTS = 10


@dataclass(frozen=True)
class RateFunnel:
    """Per events axis point: the population per year on each limit and the limit rate."""

    events: FloatArray
    lower_95_population: FloatArray
    upper_95_population: FloatArray
    lower_998_population: FloatArray
    upper_998_population: FloatArray
    lower_95: FloatArray
    upper_95: FloatArray
    lower_998: FloatArray
    upper_998: FloatArray
    baseline: float


def derived_denominators(
    count: ArrayLike,
    rate: ArrayLike,
    *,
    rate_type: RateType,
    multiplier: float,
    denominator: ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray]:
    """(events, denominators implied by the rates), NA for DSR areas with no events."""
    events = np.atleast_1d(as_float_array(count, "count"))
    rates = np.atleast_1d(as_float_array(rate, "rate"))
    if rate_type not in ("dsr", "crude"):
        raise ValueError(f"rate_type must be 'dsr' or 'crude'; got {rate_type!r}")
    if np.isnan(events).any() or np.any(events < 0):
        raise ValueError("counts must be 0 or more (no NA)")
    with np.errstate(divide="ignore", invalid="ignore"):
        derived = multiplier * events / rates
    if np.any(events == 0):
        if rate_type == "dsr":
            derived = np.where(events == 0, np.nan, derived)
        elif denominator is None:
            raise ValueError(
                "an area has 0 events, so its crude rate cannot give its population; "
                "pass denominator= as well"
            )
        else:
            real = np.atleast_1d(as_float_array(denominator, "denominator"))
            derived = np.where(events == 0, real, derived)
    return events, derived


def rate_funnel_limits(
    count: ArrayLike,
    rate: ArrayLike,
    *,
    rate_type: RateType,
    multiplier: float = 100_000,
    years_of_data: float = 1,
    denominator: ArrayLike | None = None,
) -> RateFunnel:
    events, derived = derived_denominators(
        count, rate, rate_type=rate_type, multiplier=multiplier, denominator=denominator
    )
    average = float(events.sum() / np.nansum(derived))
    minimum, maximum = axis_range(derived / years_of_data)
    axis = axis_points(
        math.floor(minimum * years_of_data * average),
        math.ceil(maximum * years_of_data * average),
    )
    population = {
        name: poisson_funnel_mean(axis, tail, side) / average for name, tail, side in FUNNEL_LINES
    }
    return RateFunnel(
        events=axis,
        lower_95_population=population["lower_95"] / years_of_data,
        upper_95_population=population["upper_95"] / years_of_data,
        lower_998_population=population["lower_998"] / years_of_data,
        upper_998_population=population["upper_998"] / years_of_data,
        lower_95=axis / population["lower_95"] * multiplier,
        upper_95=axis / population["upper_95"] * multiplier,
        lower_998=axis / population["lower_998"] * multiplier,
        upper_998=axis / population["upper_998"] * multiplier,
        baseline=average * multiplier,
    )


def rate_funnel_significance(
    count: ArrayLike,
    rate: ArrayLike,
    *,
    rate_type: RateType,
    multiplier: float = 100_000,
    denominator: ArrayLike | None = None,
) -> NDArray[np.str_]:
    """Label each area's rate against the overall average at its own denominator."""
    events, derived = derived_denominators(
        count, rate, rate_type=rate_type, multiplier=multiplier, denominator=denominator
    )
    average = float(events.sum() / np.nansum(derived))
    # DSR areas with no events have no denominator; give them a placeholder and relabel below.
    known = np.where(np.isnan(derived), 1.0, derived)
    labels = poisson_significance(events, known, benchmark=average)
    if rate_type == "dsr":
        labels = np.where(events < DSR_MINIMUM_EVENTS, DSR_TOO_FEW_EVENTS, labels)
    return labels


def rate_funnel_points(
    count: ArrayLike,
    rate: ArrayLike,
    *,
    rate_type: RateType,
    multiplier: float = 100_000,
    years_of_data: float = 1,
    denominator: ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray]:
    """(rate to plot, population per year to plot) per area; DSRs under 10 events are NA."""
    events, derived = derived_denominators(
        count, rate, rate_type=rate_type, multiplier=multiplier, denominator=denominator
    )
    rates = np.atleast_1d(as_float_array(rate, "rate"))
    if rate_type == "dsr":
        too_few = events < DSR_MINIMUM_EVENTS
        return np.where(too_few, np.nan, rates), np.where(too_few, np.nan, derived / years_of_data)
    return rates, derived / years_of_data
