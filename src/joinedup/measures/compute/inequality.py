"""The inequality gap of each measure, per period: Core20 (the most deprived fifth of
neighbourhoods, IMD quintile 1) against the rest, and the slope index of inequality across the
five IMD quintiles (Low & Low, via :func:`joinedup.measures.stats.slope_index_of_inequality`).

Both are computed from published rows only, so they disclose nothing the tables do not.
The SII is the modelled difference from the most deprived (quintile 1) to the least deprived
(quintile 5) end; its limits are simulated (10,000 draws, fixed seed, so runs are repeatable).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from joinedup.measures import stats
from joinedup.measures.definitions import MeasureDefinition, MeasureType

SII_REPETITIONS = 10_000
SII_SEED = 2019  # fixed: the same data gives the same published limits
_VALUE_TYPE = {
    MeasureType.proportion: "proportion",
    MeasureType.crude_rate: "rate",
    MeasureType.dsr: "rate",
    MeasureType.isr: "rate",
    MeasureType.mean: "normal",
}


def core20_gaps(
    measure: MeasureDefinition, rows: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Per period start: Core20 and Rest values with intervals, and the gap (Core20 - Rest)."""
    by_period: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        if row["breakdown"] == "core20":
            by_period.setdefault(row["period_start"], {})[row["group_id"]] = row
    result = {}
    for period, groups in sorted(by_period.items()):
        core, rest = groups.get("Core20"), groups.get("Rest")
        if core is None or rest is None or core["value"] is None or rest["value"] is None:
            continue
        result[period] = {
            "measure_id": measure.id,
            "period_start": period,
            "core20": core["value"],
            "core20_lower": core["lower"],
            "core20_upper": core["upper"],
            "rest": rest["value"],
            "rest_lower": rest["lower"],
            "rest_upper": rest["upper"],
            "gap": core["value"] - rest["value"],
        }
    return result


def slope_indices(
    measure: MeasureDefinition, rows: list[dict[str, Any]]
) -> dict[str, dict[str, float]]:
    """Per period start with all five quintiles published (value strictly inside the scale's
    range, with 95% limits): SII and its limits."""
    value_type = _VALUE_TYPE.get(measure.type)
    if value_type is None or measure.confidence != 0.95:
        return {}  # the SII method takes 95% limits; medians have none
    scale = measure.multiplier if value_type == "proportion" else 1.0
    by_period: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["breakdown"] == "imd_quintile":
            by_period.setdefault(row["period_start"], []).append(row)
    usable = []
    for period, quintiles in by_period.items():
        values = [q["value"] for q in quintiles]
        if len(quintiles) != 5 or any(
            v is None or q["lower"] is None for v, q in zip(values, quintiles, strict=True)
        ):
            continue
        low = min(min(values), *(q["lower"] for q in quintiles)) / scale
        high = max(max(values), *(q["upper"] for q in quintiles)) / scale
        if low <= 0 or (value_type == "proportion" and high >= 1):
            continue  # log / logit scale needs values strictly inside (0, 1) or above 0
        if any(not q["denominator"] for q in quintiles):
            continue
        usable += [(period, q) for q in quintiles]
    if not usable:
        return {}
    index = stats.slope_index_of_inequality(
        [float(q["group_id"]) for _, q in usable],
        [float(q["denominator"]) for _, q in usable],
        [q["value"] / scale for _, q in usable],
        group=[p for p, _ in usable],
        lower_cl=[q["lower"] / scale for _, q in usable],
        upper_cl=[q["upper"] / scale for _, q in usable],
        value_type=value_type,  # type: ignore[arg-type]
        multiplier=scale,
        repetitions=SII_REPETITIONS,
        seed=SII_SEED,
    )
    periods = sorted({p for p, _ in usable})
    return {
        period: {"sii": float(s), "sii_lower": float(lo), "sii_upper": float(hi)}
        for period, s, lo, hi in zip(
            periods, index.sii, index.sii_lower, index.sii_upper, strict=True
        )
        if not np.isnan(s)
    }


def inequality_rows(measure: MeasureDefinition, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    gaps = core20_gaps(measure, rows)
    slopes = slope_indices(measure, rows)
    result = []
    for period in sorted(set(gaps) | set(slopes)):
        base = gaps.get(period, {"measure_id": measure.id, "period_start": period})
        result.append({**base, **slopes.get(period, {})})
    return result
