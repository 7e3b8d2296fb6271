"""SPC (Making Data Count XmR) over each measure's monthly series, per ICS and Place."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from joinedup.measures.compute.estimate import Estimates
from joinedup.measures.definitions import MeasureDefinition
from joinedup.measures.spc import xmr_chart

SPC_BREAKDOWNS = ("ics", "place")
#: Fewer points than this and no chart is drawn (NHSRplotthedots asks for at least 12).
MINIMUM_POINTS = 12


POINT_SCHEMA = pa.schema(
    [
        ("measure_id", pa.string()),
        ("breakdown", pa.string()),
        ("group_id", pa.string()),
        ("period_start", pa.string()),
        ("value", pa.float64()),
        ("mean", pa.float64()),
        ("lpl", pa.float64()),
        ("upl", pa.float64()),
        ("point_type", pa.string()),
        ("special_cause", pa.bool_()),
    ]
)


def spc_tables(
    measure: MeasureDefinition, monthly: Estimates, hidden: np.ndarray[Any, Any]
) -> tuple[pa.Table, list[dict[str, Any]]]:
    """(points, summaries) for the ICS and each Place. Limits use every monthly value; points
    whose count is suppressed are published without their value."""
    summaries: list[dict[str, Any]] = []
    keep = np.isin(monthly.breakdown, SPC_BREAKDOWNS) & ~np.isnan(monthly.value)
    facets = np.char.add(
        monthly.breakdown.astype(str), np.char.add("\x1f", monthly.group_id.astype(str))
    )
    _, series, points_in = np.unique(facets[keep], return_inverse=True, return_counts=True)
    long_enough = np.zeros(len(facets), dtype=bool)
    long_enough[np.flatnonzero(keep)] = points_in[series] >= MINIMUM_POINTS
    rows = np.flatnonzero(long_enough)
    if not len(rows):
        return POINT_SCHEMA.empty_table(), summaries
    chart = xmr_chart(
        monthly.value[rows],
        monthly.period_start[rows].astype("datetime64[D]"),
        facets=facets[rows],
        improvement_direction=measure.polarity.spc_direction,
        target=measure.target,
    )
    p = chart.points
    source = rows[p.order]
    shown = ~hidden[source]
    points = pa.Table.from_pydict(
        {
            "measure_id": pa.array(np.full(len(source), measure.id)),
            "breakdown": pa.array(monthly.breakdown[source].astype(str)),
            "group_id": pa.array(monthly.group_id[source].astype(str)),
            "period_start": pa.array(p.date.astype("datetime64[D]").astype(str)),
            "value": pa.array(p.value, mask=~shown),
            "mean": pa.array(p.mean),
            "lpl": pa.array(p.lpl),
            "upl": pa.array(p.upl),
            "point_type": pa.array(p.point_type.astype(str), mask=~shown),
            "special_cause": pa.array(p.special_cause_flag, mask=~shown),
        },
        schema=POINT_SCHEMA,
    )
    for summary in chart.summaries:
        if not summary.is_latest_group:
            continue
        breakdown, group_id = str(summary.facet).split("\x1f", 1)
        summaries.append(
            {
                "measure_id": measure.id,
                "breakdown": breakdown,
                "group_id": group_id,
                "points": summary.n,
                "mean": summary.mean,
                "lpl": summary.lpl,
                "upl": summary.upl,
                "variation_icon": summary.variation_icon,
                "assurance_icon": summary.assurance_icon,
            }
        )
    return points, summaries
