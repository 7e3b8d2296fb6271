"""Values and confidence intervals per (breakdown, group, period), by measure type, using the
Fingertips methods in :mod:`joinedup.measures.stats` over whole arrays at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from joinedup.measures import stats
from joinedup.measures.definitions import MeasureDefinition, MeasureType

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Estimates:
    """One row per (breakdown, group, period): counts and the estimate with its interval."""

    breakdown: Array
    group_id: Array
    period_start: Array
    period_end: Array
    numerator: Array
    denominator: Array
    value: Array
    lower: Array
    upper: Array
    expected: Array | None = None
    """Ratios (ISR): each cell's expected events, which the ratio's funnel plot needs."""
    std_dev: Array | None = None
    """Means: each cell's sample standard deviation, which the mean's funnel plot needs."""

    def __len__(self) -> int:
        return len(self.breakdown)


def _keys(*parts: list[Array]) -> list[Array]:
    """One integer per row of each part (its breakdown, group and period columns), ordered as
    the rows' (breakdown, group, period) are, equal rows of any part getting equal integers.

    Integers, not text labels: joining the three as text per row was most of the time."""
    sizes = [len(part[0]) for part in parts]
    keys = np.zeros(sum(sizes), dtype=np.int64)
    for columns in zip(*parts, strict=True):
        # Periods sort as dates, as their ISO text does; the other columns as text.
        values = np.concatenate(
            [c if np.issubdtype(c.dtype, np.datetime64) else c.astype(str) for c in columns]
        )
        levels, codes = np.unique(values, return_inverse=True)
        keys = keys * len(levels) + codes
    return np.split(keys, np.cumsum(sizes)[:-1])


def _cells(counts: dict[str, Array]) -> tuple[Array, Array]:
    """Each row's code of its (breakdown, group, period) and the first row of each code."""
    (keys,) = _keys([counts[name] for name in ("breakdown", "group_id", "period_start")])
    _, first, codes = np.unique(keys, return_index=True, return_inverse=True)
    return codes, first


def _collapse(counts: dict[str, Array], codes: Array, first: Array, column: str) -> Array:
    values = np.nan_to_num(counts[column].astype(np.float64))
    return np.bincount(codes, weights=values, minlength=len(first))


def estimate(measure: MeasureDefinition, counts: dict[str, Array]) -> Estimates:
    codes, first = _cells(counts)
    numerator = _collapse(counts, codes, first, "numerator")
    counted = measure.type in (MeasureType.mean, MeasureType.median_time)
    denominator = (
        np.full(len(first), np.nan) if counted else _collapse(counts, codes, first, "denominator")
    )
    confidence = measure.confidence
    kind = measure.type
    nan = np.full(len(first), np.nan)
    value, lower, upper = nan, nan.copy(), nan.copy()
    expected: Array | None = None
    std_dev: Array | None = None
    if kind is MeasureType.proportion:
        ok = denominator > 0
        value, lower, upper = (nan.copy() for _ in range(3))
        interval = stats.proportion_ci(
            np.minimum(numerator[ok], denominator[ok]),
            denominator[ok],
            confidence,
            multiplier=measure.multiplier,
        )
        value[ok], lower[ok], upper[ok] = interval
    elif kind is MeasureType.crude_rate:
        ok = denominator > 0
        value, lower, upper = (nan.copy() for _ in range(3))
        interval = stats.rate_ci(numerator[ok], denominator[ok], confidence, per=measure.multiplier)
        value[ok], lower[ok], upper[ok] = interval
    elif kind is MeasureType.dsr:
        value, lower, upper = _dsr(measure, counts, codes, len(first))
    elif kind is MeasureType.isr:
        value, lower, upper, expected = _isr(measure, counts, codes, first)
    elif kind is MeasureType.mean:
        value, lower, upper, std_dev = _mean(measure, counts, first)
    elif kind is MeasureType.median_time:
        value = counts["value_quantile"].astype(np.float64)[first]
    return Estimates(
        breakdown=counts["breakdown"][first].astype(str),
        group_id=counts["group_id"][first].astype(str),
        period_start=counts["period_start"][first],
        period_end=counts["period_end"][first],
        numerator=numerator,
        denominator=denominator,
        value=value,
        lower=lower,
        upper=upper,
        expected=expected,
        std_dev=std_dev,
    )


def _dsr(
    measure: MeasureDefinition, counts: dict[str, Array], codes: Array, size: int
) -> tuple[Array, Array, Array]:
    population = np.nan_to_num(counts["denominator"].astype(np.float64))
    band_index = {band: i for i, band in enumerate(stats.ESP2013_AGE_BANDS)}
    weight = np.array([stats.ESP2013[band_index[str(b)]] for b in counts["band"]], dtype=np.float64)
    # Age bands with events but no person-time cannot be standardised; they hold no population.
    keep = population > 0
    result = [np.full(size, np.nan) for _ in range(3)]
    if not keep.any():
        return result[0], result[1], result[2]
    interval = stats.dsr_ci(
        np.nan_to_num(counts["numerator"].astype(np.float64))[keep],
        population[keep],
        weight[keep],
        group=codes[keep],
        confidence=measure.confidence,
        per=measure.multiplier,
        count_variance=np.nan_to_num(counts["variance"].astype(np.float64))[keep],
    )
    present = np.unique(codes[keep])
    for target, source in zip(result, interval, strict=True):
        target[present] = source
    return result[0], result[1], result[2]


def _isr(
    measure: MeasureDefinition, counts: dict[str, Array], codes: Array, first: Array
) -> tuple[Array, Array, Array, Array]:
    """Ratio to the ICS (x ``multiplier``): each group's expected events apply the ICS's
    age-specific rates of the same period to the group's person-time."""
    population = np.nan_to_num(counts["denominator"].astype(np.float64))
    events = np.nan_to_num(counts["numerator"].astype(np.float64))
    is_ics = counts["breakdown"].astype(str) == "ics"
    key = np.char.add(counts["period_start"].astype(str), counts["band"].astype(str))
    reference = {
        k: (e, p) for k, e, p in zip(key[is_ics], events[is_ics], population[is_ics], strict=True)
    }
    ref = np.array([reference.get(k, (0.0, 0.0)) for k in key], dtype=np.float64).reshape(-1, 2)
    keep = (ref[:, 1] > 0) & (population > 0)
    size = len(first)
    expected = np.zeros(size)
    expected_by_code = stats.expected_events(
        population[keep], ref[keep, 0], ref[keep, 1], group=codes[keep]
    )
    expected[np.unique(codes[keep])] = expected_by_code
    observed = np.bincount(codes, weights=events, minlength=size)
    value, lower, upper = (np.full(size, np.nan) for _ in range(3))
    ok = expected > 0
    interval = stats.isratio_ci(
        observed[ok], expected[ok], measure.confidence, refvalue=measure.multiplier
    )
    value[ok], lower[ok], upper[ok] = interval
    return value, lower, upper, expected


def _mean(
    measure: MeasureDefinition, counts: dict[str, Array], first: Array
) -> tuple[Array, Array, Array, Array]:
    """Student t interval and standard deviation per cell from the unit values (``aggregate``
    adds them for means)."""
    size = len(first)
    result = [np.full(size, np.nan) for _ in range(4)]
    if not len(counts["unit_value"]):
        return result[0], result[1], result[2], result[3]
    # Cells come in sorted key order (``_cells``), so each unit's cell is found by bisection
    # and the units are grouped once, by integer cell, for both estimates.
    cell_keys, unit_keys = _keys(
        [counts[name][first] for name in ("breakdown", "group_id", "period_start")],
        [counts[name] for name in ("unit_breakdown", "unit_group_id", "unit_period_start")],
    )
    cells = stats.Groups.of(np.searchsorted(cell_keys, unit_keys), len(unit_keys))
    values = counts["unit_value"].astype(np.float64)
    interval = stats.mean_ci(values, group=cells, confidence=measure.confidence)
    spread = stats.standard_deviation(values, group=cells)
    for target, source in zip(result, (*interval, spread), strict=True):
        target[cells.keys] = source
    return result[0], result[1], result[2], result[3]
