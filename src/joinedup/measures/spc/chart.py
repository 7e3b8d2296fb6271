"""Making Data Count XmR charts: limits, special-cause points, rebasing, icons, per facet.

``xmr_chart`` takes a whole table of series at once (one row per facet and date) and returns
every point's limits and rule flags plus one summary per facet and rebase group. The methods
follow NHS England's "Making Data Count" guidance as NHSRplotthedots 0.2.2 implements it; see
docs/statistics.md for where current NHS guidance differs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from joinedup.measures.spc.icons import (
    DIRECTIONS,
    Direction,
    assurance_icon,
    assurance_type,
    variation_icon,
)
from joinedup.measures.spc.limits import xmr_limits
from joinedup.measures.spc.point_types import (
    COMMON_CAUSE,
    point_types,
    special_cause_types,
    trend_direction,
)
from joinedup.measures.spc.rules import (
    part_of_run,
    shift_run_end,
    trend_end,
    two_in_three_points,
)

SHORT_GROUP = 13  # fewer points than this: limits are trial limits (NHSRplotthedots warns)
POINT_TYPES = (
    "special_cause_improvement",
    "special_cause_concern",
    "special_cause_neutral",
    "common_cause",
)

FacetValue = Any
DateList = Sequence[Any]


@dataclass(frozen=True)
class XmRPoints:
    """One entry per input point, sorted by facet then date (``order`` maps back to input)."""

    order: NDArray[np.intp]
    facet: NDArray[Any]
    date: NDArray[np.datetime64]
    value: NDArray[np.float64]
    rebase_group: NDArray[np.intp]
    short_group_warning: NDArray[np.bool_]
    mean: NDArray[np.float64]
    lpl: NDArray[np.float64]
    upl: NDArray[np.float64]
    outside_limits: NDArray[np.bool_]
    relative_to_mean: NDArray[np.int8]
    close_to_limits: NDArray[np.bool_]
    special_cause_type: NDArray[np.str_]
    special_cause_flag: NDArray[np.bool_]
    point_type: NDArray[np.str_]
    target: NDArray[np.float64]


@dataclass(frozen=True)
class XmRSummary:
    """One facet x rebase group. Icons are set on each facet's latest group only."""

    facet: FacetValue
    rebase_group: int
    n: int
    first_date: np.datetime64
    last_date: np.datetime64
    mean: float
    lpl: float
    upl: float
    point_type_counts: dict[str, int]
    is_latest_group: bool
    variation_type: str | None
    assurance_type: str | None
    variation_icon: str | None
    assurance_icon: str | None


@dataclass(frozen=True)
class XmRChart:
    points: XmRPoints
    summaries: list[XmRSummary]


def _per_facet(setting: Any, facet: FacetValue) -> Any:
    """A per-facet mapping gives this facet's setting (None if absent); otherwise it is shared."""
    return setting.get(facet) if isinstance(setting, Mapping) else setting


def _as_dates(dates: ArrayLike, what: str) -> NDArray[np.datetime64]:
    try:
        return np.asarray(dates, dtype="datetime64")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be dates (ISO text or datetime64): {exc}") from exc


def _check(values: NDArray[np.float64], direction: str, fix_after_n_points: int | None) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"improvement_direction must be one of {DIRECTIONS}; got {direction!r}")
    if len(values) == 0:
        raise ValueError("an XmR chart needs at least one value")
    if np.isnan(values).any():
        raise ValueError("values contain NA; an XmR chart needs a value for every date")
    if fix_after_n_points is not None and fix_after_n_points < 2:
        raise ValueError("fix_after_n_points must be at least 2 (12 or more is recommended)")


def xmr_chart(
    values: ArrayLike,
    dates: ArrayLike,
    *,
    facets: ArrayLike | None = None,
    improvement_direction: Direction = "increase",
    target: float | Mapping[FacetValue, float] | None = None,
    rebase: DateList | Mapping[FacetValue, DateList] | None = None,
    fix_after_n_points: int | None = None,
    screen_outliers: bool = True,
) -> XmRChart:
    """XmR chart of one or many series (``facets`` labels the series of each point).

    ``rebase`` lists the dates that start a new set of limits (a mapping gives them per facet;
    dates not in the data are ignored). ``target`` may also be a per-facet mapping.
    ``fix_after_n_points`` bases the limits on the first n points of each rebase group.
    """
    raw_values = np.asarray(values, dtype=np.float64)
    raw_dates = _as_dates(dates, "dates")
    if raw_dates.shape != raw_values.shape or raw_values.ndim != 1:
        raise ValueError("values and dates must be 1-D and of the same length")
    _check(raw_values, improvement_direction, fix_after_n_points)
    raw_facets = (
        np.full(len(raw_values), None, dtype=object) if facets is None else np.asarray(facets)
    )
    if raw_facets.shape != raw_values.shape:
        raise ValueError("facets must give one label per value")

    facet_keys, facet_codes = (
        np.unique(raw_facets, return_inverse=True)
        if facets is not None
        else (
            np.array([None], dtype=object),
            np.zeros(len(raw_values), dtype=np.intp),
        )
    )
    order = np.lexsort((raw_dates, facet_codes))
    value = raw_values[order]
    date = raw_dates[order]
    facet_code = facet_codes[order].astype(np.intp)
    facet = facet_keys[facet_code]
    if np.any((facet_code[1:] == facet_code[:-1]) & (date[1:] == date[:-1])):
        raise ValueError("a date appears twice within one facet; give one value per date")

    starts = np.zeros(len(value), dtype=bool)
    targets = np.full(len(value), np.nan)
    for code, key in enumerate(facet_keys):
        in_facet = facet_code == code
        facet_rebase = _per_facet(rebase, key)
        if facet_rebase is not None and len(facet_rebase) > 0:
            starts |= in_facet & np.isin(date, _as_dates(facet_rebase, "rebase"))
        facet_target = _per_facet(target, key)
        if facet_target is not None:
            targets[in_facet] = float(facet_target)
    facet_start = np.r_[True, facet_code[1:] != facet_code[:-1]]
    rebase_group = _count_within(starts & ~facet_start, facet_start)
    new_segment = facet_start | starts
    segments = (np.cumsum(new_segment) - 1).astype(np.intp)
    n_segments = int(segments[-1]) + 1 if len(segments) else 0

    limits = xmr_limits(
        value,
        segments,
        n_segments,
        fix_after_n_points=fix_after_n_points,
        screen_outliers=screen_outliers,
    )
    mean, lpl, upl = limits.mean[segments], limits.lpl[segments], limits.upl[segments]
    signs = np.sign(value - mean).astype(np.int8)
    outside = (value > upl) | (value < lpl)
    close = ~outside & ((value > limits.near_upl[segments]) | (value < limits.near_lpl[segments]))
    in_shift = part_of_run(shift_run_end(signs, segments), segments)
    in_trend = part_of_run(trend_end(value, segments), segments)
    in_two_in_three = two_in_three_points(close, signs, segments)
    cause = special_cause_types(
        outside=outside,
        signs=signs,
        in_trend=in_trend,
        direction=trend_direction(value, in_trend, segments),
        in_two_in_three=in_two_in_three,
        in_shift=in_shift,
    )
    kinds = point_types(cause, improvement_direction)
    segment_size = np.bincount(segments, minlength=n_segments)
    points = XmRPoints(
        order=order,
        facet=facet,
        date=date,
        value=value,
        rebase_group=rebase_group,
        short_group_warning=segment_size[segments] < SHORT_GROUP,
        mean=mean,
        lpl=lpl,
        upl=upl,
        outside_limits=outside,
        relative_to_mean=signs,
        close_to_limits=close,
        special_cause_type=cause,
        special_cause_flag=cause != COMMON_CAUSE,
        point_type=kinds,
        target=targets,
    )
    return XmRChart(points, _summaries(points, segments, n_segments, improvement_direction))


def _count_within(
    increments: NDArray[np.bool_], facet_start: NDArray[np.bool_]
) -> NDArray[np.intp]:
    """Running count of ``increments`` that restarts at each facet's first point."""
    total = np.cumsum(increments)
    at_start = np.maximum.accumulate(np.where(facet_start, np.arange(len(total)), 0))
    return (total - total[at_start]).astype(np.intp)


def _summaries(
    points: XmRPoints, segments: NDArray[np.intp], n_segments: int, direction: Direction
) -> list[XmRSummary]:
    first = np.searchsorted(segments, np.arange(n_segments), side="left")
    last = np.searchsorted(segments, np.arange(n_segments), side="right") - 1
    neutral = np.char.startswith(points.point_type.astype(str), "special_cause_neutral")
    kinds = np.where(neutral, "special_cause_neutral", points.point_type)
    summaries = []
    for segment in range(n_segments):
        begin, end = int(first[segment]), int(last[segment])
        latest = end == len(segments) - 1 or points.facet[end + 1] != points.facet[end]
        counts = {kind: int(np.sum(kinds[begin : end + 1] == kind)) for kind in POINT_TYPES}
        variation = str(points.point_type[end]) if latest else None
        target = float(points.target[end])
        assurance = (
            assurance_type(
                direction, None if np.isnan(target) else target, points.lpl[end], points.upl[end]
            )
            if latest
            else None
        )
        summaries.append(
            XmRSummary(
                facet=points.facet[end],
                rebase_group=int(points.rebase_group[end]),
                n=end - begin + 1,
                first_date=points.date[begin],
                last_date=points.date[end],
                mean=float(points.mean[end]),
                lpl=float(points.lpl[end]),
                upl=float(points.upl[end]),
                point_type_counts=counts,
                is_latest_group=bool(latest),
                variation_type=variation,
                assurance_type=assurance,
                variation_icon=variation_icon(variation, direction) if variation else None,
                assurance_icon=assurance_icon(assurance),
            )
        )
    return summaries
