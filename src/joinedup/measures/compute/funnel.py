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
    """One funnel per breakdown over the published rows of the latest period; none for means,
    median times and ratios (their funnels need the expected counts, not kept here)."""
    if measure.type not in (MeasureType.proportion, MeasureType.crude_rate, MeasureType.dsr):
        return []
    if not len(estimates):
        return []
    latest = np.max(estimates.period_start)
    result = []
    for breakdown in FUNNEL_BREAKDOWNS:
        rows = np.flatnonzero(
            (estimates.breakdown == breakdown)
            & (estimates.period_start == latest)
            & ~hidden
            & (np.nan_to_num(estimates.denominator) > 0)
            & ~np.isnan(estimates.value)
        )
        if len(rows) < 3 or estimates.numerator[rows].sum() == 0:
            continue
        num, den, value = (
            estimates.numerator[rows],
            estimates.denominator[rows],
            estimates.value[rows],
        )
        if measure.type is MeasureType.proportion:
            # Limits beyond 0-100% come out as NaN (no line there); numpy need not warn.
            with np.errstate(invalid="ignore"):
                limits = stats.proportion_funnel_limits(num, den, multiplier=measure.multiplier)
                significance = stats.proportion_funnel_significance(num, den)
            baseline = float(limits.baseline)
            lines = {
                "x": _floats(limits.population),
                "lower_95": _floats(limits.lower_95),
                "upper_95": _floats(limits.upper_95),
                "lower_998": _floats(limits.lower_998),
                "upper_998": _floats(limits.upper_998),
            }
        else:
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
                "lower_95": _floats(rate_limits.lower_95),
                "upper_95": _floats(rate_limits.upper_95),
                "lower_998": _floats(rate_limits.lower_998),
                "upper_998": _floats(rate_limits.upper_998),
            }
            baseline = float(rate_limits.baseline)
        result.append(
            {
                "measure_id": measure.id,
                "breakdown": breakdown,
                "period_start": str(latest)[:10],
                "baseline": baseline,
                "lines": lines,
                "points": [
                    {"group_id": str(g), "x": float(d), "y": float(v), "significance": str(s)}
                    for g, d, v, s in zip(
                        estimates.group_id[rows], den, value, significance, strict=True
                    )
                ],
            }
        )
    return result
