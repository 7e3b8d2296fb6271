"""SPC (Making Data Count XmR) over each measure's monthly series, per ICS and Place."""

from __future__ import annotations

from typing import Any

import numpy as np

from joinedup.measures.compute.estimate import Estimates
from joinedup.measures.definitions import MeasureDefinition
from joinedup.measures.spc import xmr_chart

SPC_BREAKDOWNS = ("ics", "place")
#: Fewer points than this and no chart is drawn (NHSRplotthedots asks for at least 12).
MINIMUM_POINTS = 12


def spc_tables(
    measure: MeasureDefinition, monthly: Estimates, hidden: np.ndarray[Any, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(points, summaries) for the ICS and each Place. Limits use every monthly value; points
    whose count is suppressed are published without their value."""
    points: list[dict[str, Any]] = []
    summaries: list[dict[str, Any]] = []
    keep = np.isin(monthly.breakdown, SPC_BREAKDOWNS) & ~np.isnan(monthly.value)
    facets = np.char.add(
        monthly.breakdown.astype(str), np.char.add("\x1f", monthly.group_id.astype(str))
    )
    counts = {f: int((facets[keep] == f).sum()) for f in np.unique(facets[keep])}
    keep &= np.array([counts.get(f, 0) >= MINIMUM_POINTS for f in facets], dtype=bool)
    if not keep.any():
        return points, summaries
    rows = np.flatnonzero(keep)
    chart = xmr_chart(
        monthly.value[rows],
        monthly.period_start[rows].astype("datetime64[D]"),
        facets=facets[rows],
        improvement_direction=measure.polarity.spc_direction,
        target=measure.target,
    )
    p = chart.points
    by_position = {
        (str(f), str(d)): i
        for i, (f, d) in enumerate(
            zip(facets[rows], monthly.period_start[rows].astype("datetime64[D]"), strict=True)
        )
    }
    for i in range(len(p.value)):
        source = rows[by_position[(str(p.facet[i]), str(p.date[i]))]]
        breakdown, group_id = str(p.facet[i]).split("\x1f", 1)
        points.append(
            {
                "measure_id": measure.id,
                "breakdown": breakdown,
                "group_id": group_id,
                "period_start": str(p.date[i]),
                "value": None if hidden[source] else float(p.value[i]),
                "mean": float(p.mean[i]),
                "lpl": float(p.lpl[i]),
                "upl": float(p.upl[i]),
                "point_type": None if hidden[source] else str(p.point_type[i]),
                "special_cause": None if hidden[source] else bool(p.special_cause_flag[i]),
            }
        )
    for s in chart.summaries:
        if not s.is_latest_group:
            continue
        breakdown, group_id = str(s.facet).split("\x1f", 1)
        summaries.append(
            {
                "measure_id": measure.id,
                "breakdown": breakdown,
                "group_id": group_id,
                "points": s.n,
                "mean": s.mean,
                "lpl": s.lpl,
                "upl": s.upl,
                "variation_icon": s.variation_icon,
                "assurance_icon": s.assurance_icon,
            }
        )
    return points, summaries
