"""Funnel plots of the latest period across Places, PCNs and practices (Fingertips limits)."""

from __future__ import annotations

from typing import Any

import numpy as np

from joinedup.measures import stats
from joinedup.measures.compute.estimate import Estimates
from joinedup.measures.definitions import MeasureDefinition, MeasureType
from joinedup.measures.stats.funnels.rates import RateType

FUNNEL_BREAKDOWNS = ("place", "pcn", "practice")


def _floats(values: Any) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64)]


def funnels(
    measure: MeasureDefinition, estimates: Estimates, hidden: np.ndarray[Any, Any]
) -> list[dict[str, Any]]:
    """One funnel per breakdown over the published rows of the latest period. Median times get
    none: no published funnel method exists for medians (Fingertips draws none)."""
    if measure.type is MeasureType.median_time or not len(estimates):
        return []
    latest = np.max(estimates.period_start)
    result = []
    for breakdown in FUNNEL_BREAKDOWNS:
        rows = np.flatnonzero(
            (estimates.breakdown == breakdown)
            & (estimates.period_start == latest)
            & ~hidden
            & _plottable(measure, estimates)
            & ~np.isnan(estimates.value)
        )
        if len(rows) < 3 or estimates.numerator[rows].sum() == 0:
            continue
        x, baseline, lines, significance = _limits(measure, estimates, rows)
        points = zip(estimates.group_id[rows], x, estimates.value[rows], significance, strict=True)
        result.append(
            {
                "measure_id": measure.id,
                "breakdown": breakdown,
                "period_start": str(latest)[:10],
                "x_title": X_TITLES[measure.type],
                "baseline": baseline,
                "lines": lines,
                "points": [
                    {"group_id": str(g), "x": float(d), "y": float(v), "significance": str(s)}
                    for g, d, v, s in points
                ],
            }
        )
    return result


#: What each type's funnel plots along the x axis.
X_TITLES = {
    MeasureType.proportion: "Denominator",
    MeasureType.crude_rate: "Denominator (person-years)",
    MeasureType.dsr: "Denominator (person-years)",
    MeasureType.isr: "Observed events",
    MeasureType.mean: "Number of people",
}


def _plottable(measure: MeasureDefinition, estimates: Estimates) -> np.ndarray[Any, Any]:
    """Rows with what the type's limits need: a denominator, expected events, or a spread."""
    if measure.type is MeasureType.isr and estimates.expected is not None:
        return np.nan_to_num(estimates.expected) > 0
    if measure.type is MeasureType.mean and estimates.std_dev is not None:
        return (estimates.numerator >= 2) & ~np.isnan(estimates.std_dev)
    return np.nan_to_num(estimates.denominator) > 0


def _limits(
    measure: MeasureDefinition, estimates: Estimates, rows: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], float, dict[str, list[float]], np.ndarray[Any, Any]]:
    """(each point's x, the baseline, the limit lines, each point's significance)."""
    num, den, value = estimates.numerator[rows], estimates.denominator[rows], estimates.value[rows]
    if measure.type is MeasureType.proportion:
        # Limits beyond 0-100% come out as NaN (no line there); numpy need not warn.
        with np.errstate(invalid="ignore"):
            limits = stats.proportion_funnel_limits(num, den, multiplier=measure.multiplier)
            significance = stats.proportion_funnel_significance(num, den)
        return den, float(limits.baseline), _lines(limits.population, limits), significance
    if measure.type is MeasureType.isr:
        expected = np.asarray(estimates.expected)[rows]
        ratio = stats.ratio_funnel_limits(num, expected, ratio_type="isr")
        scale = measure.multiplier / 100.0  # "isr" ratios are O/E x 100
        lines = _lines(ratio.observed_events, ratio)
        lines.update({k: [v * scale for v in lines[k]] for k in LIMITS})
        significance = stats.ratio_funnel_significance(num, expected)
        return num, measure.multiplier, lines, significance
    if measure.type is MeasureType.mean:
        spread = np.asarray(estimates.std_dev)[rows]
        mean = stats.mean_funnel_limits(num, value, spread)
        significance = stats.mean_funnel_significance(num, value, spread)
        return num, mean.target, _lines(mean.count, mean), significance
    rate_type: RateType = "dsr" if measure.type is MeasureType.dsr else "crude"
    rate_limits = stats.rate_funnel_limits(
        num, value, rate_type=rate_type, multiplier=measure.multiplier, denominator=den
    )
    significance = stats.rate_funnel_significance(
        num, value, rate_type=rate_type, multiplier=measure.multiplier, denominator=den
    )
    lines = {
        "x_lower_95": _floats(rate_limits.lower_95_population),
        "x_upper_95": _floats(rate_limits.upper_95_population),
        "x_lower_998": _floats(rate_limits.lower_998_population),
        "x_upper_998": _floats(rate_limits.upper_998_population),
        **{name: _floats(getattr(rate_limits, name)) for name in LIMITS},
    }
    return den, float(rate_limits.baseline), lines, significance


LIMITS = ("lower_95", "upper_95", "lower_998", "upper_998")


def _lines(x: Any, limits: Any) -> dict[str, list[float]]:
    """The four limit lines drawn over one shared x axis."""
    return {"x": _floats(x), **{name: _floats(getattr(limits, name)) for name in LIMITS}}
