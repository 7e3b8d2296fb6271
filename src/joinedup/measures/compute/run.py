"""Compute the whole measure library over a source folder and write the result tables.

views -> numerators/denominators per measure x breakdown x period -> statistics ->
comparisons -> disclosure control -> SPC over the monthly series -> funnels -> files.
Everything written to the out dir has passed disclosure control.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from joinedup.export.disclosure import DisclosureRule
from joinedup.measures.compute.accountability import group_names, places
from joinedup.measures.compute.aggregate import aggregate, install_periods
from joinedup.measures.compute.compare import versus_ics, versus_peers
from joinedup.measures.compute.estimate import Estimates, estimate
from joinedup.measures.compute.funnel import funnels
from joinedup.measures.compute.inequality import inequality_rows
from joinedup.measures.compute.periods import Period, periods
from joinedup.measures.compute.protect import protect
from joinedup.measures.compute.series import SPC_BREAKDOWNS, spc_tables
from joinedup.measures.definitions import Grain, MeasureDefinition, MeasureType, load_library
from joinedup.views.library import register_standard_tables
from joinedup.views.sources import Source

RESULT_FILES = (
    "results.parquet",
    "spc.parquet",
    "measures.json",
    "spc_summary.json",
    "funnels.json",
    "inequality.json",
    "places.json",
)


@dataclass(frozen=True)
class RunSummary:
    out: Path
    measures: int
    result_rows: int
    first_period: date | None
    last_period: date | None


def _clean(value: float) -> float | None:
    return None if value is None or np.isnan(value) else float(value)


def _result_rows(
    measure: MeasureDefinition,
    grain: Grain,
    est: Estimates,
    rule: DisclosureRule,
    names: dict[str, str],
) -> tuple[list[dict[str, Any]], np.ndarray[Any, Any]]:
    hidden, numerator, denominator = protect(
        est, with_complement=measure.type is MeasureType.proportion, rule=rule
    )
    vs_ics = versus_ics(est, measure.polarity)
    above, overlap, below = versus_peers(est)
    rows = []
    for i in range(len(est)):
        show = not hidden[i]
        rows.append(
            {
                "measure_id": measure.id,
                "grain": grain.value,
                "breakdown": str(est.breakdown[i]),
                "group_id": str(est.group_id[i]),
                "group_name": names.get(str(est.group_id[i]), str(est.group_id[i])),
                "period_start": str(est.period_start[i])[:10],
                "period_end": str(est.period_end[i])[:10],
                "numerator": numerator[i],
                "denominator": denominator[i],
                "value": _clean(est.value[i]) if show else None,
                "lower": _clean(est.lower[i]) if show else None,
                "upper": _clean(est.upper[i]) if show else None,
                "suppressed": bool(hidden[i]),
                "vs_ics": str(vs_ics[i]) if show else "",
                "peers_above": int(above[i]) if show else None,
                "peers_similar": int(overlap[i]) if show else None,
                "peers_below": int(below[i]) if show else None,
            }
        )
    return rows, hidden


class _InstalledPeriods:
    """Rebuilds ``periods`` and ``population`` (people x periods, the largest table) only when
    the next measure asks for a different set of periods."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        self.current: list[Period] | None = None

    def use(self, wanted: list[Period]) -> None:
        if wanted != self.current:
            install_periods(self.connection, wanted)
            self.current = wanted


def _warmed_up(first: date, measure: MeasureDefinition) -> date:
    """The first day whose periods have the look-back the measure needs (12 months of blood
    pressures before "controlled in the last 12 months" can be judged)."""
    months = first.year * 12 + first.month - 1 + measure.warm_up_months
    start = date(months // 12, months % 12 + 1, 1)
    return first if measure.warm_up_months == 0 else max(first, start)


def _definition_json(measure: MeasureDefinition) -> dict[str, Any]:
    return measure.model_dump(mode="json")


def compute_measures(
    source: Path,
    out: Path,
    *,
    library: Path | None = None,
    grain: Grain | None = None,
    rule: DisclosureRule | None = None,
    on_step: Callable[[str], None] | None = None,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> RunSummary:
    """Compute every measure in ``library`` over ``source`` into ``out``.

    ``grain`` overrides every measure's own period grain (the benchmark uses months);
    ``connection`` (default: a new in-memory DuckDB) keeps the standard tables for inspection.
    """
    step = on_step or (lambda _: None)
    rule = rule or DisclosureRule.from_settings()
    measures = load_library(library) if library is not None else load_library()
    connection = connection if connection is not None else duckdb.connect()
    step("views")
    tables = register_standard_tables(connection, Source.open(source))
    first, last = tables.first_activity, tables.last_activity
    names = group_names(connection)
    installed = _InstalledPeriods(connection)
    all_rows: list[dict[str, Any]] = []
    spc_points: list[dict[str, Any]] = []
    spc_summaries: list[dict[str, Any]] = []
    funnel_data: list[dict[str, Any]] = []
    inequality: list[dict[str, Any]] = []
    # Measures sharing a period set run together, so ``population`` is rebuilt less often.
    for measure in sorted(
        measures, key=lambda m: ((grain or m.grain).value, m.warm_up_months, m.id)
    ):
        step(measure.id)
        measure_grain = grain or measure.grain
        breakdowns = (*measure.breakdowns, "core20")
        if first is None or last is None:
            continue
        installed.use(periods(measure_grain, _warmed_up(first, measure), last))
        est = estimate(measure, aggregate(connection, measure, breakdowns))
        rows, hidden = _result_rows(measure, measure_grain, est, rule, names)
        all_rows += rows
        inequality += inequality_rows(measure, rows)
        funnel_data += funnels(measure, est, hidden)
        if measure_grain is not Grain.month:
            installed.use(periods(Grain.month, _warmed_up(first, measure), last))
            monthly = estimate(
                measure,
                aggregate(
                    connection, measure, [b for b in SPC_BREAKDOWNS if b in measure.breakdowns]
                ),
            )
            monthly_hidden = protect(
                monthly, with_complement=measure.type is MeasureType.proportion, rule=rule
            )[0]
        else:
            monthly, monthly_hidden = est, hidden
        points, summaries = spc_tables(measure, monthly, monthly_hidden)
        spc_points += points
        spc_summaries += summaries
    step("writing")
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(all_rows), out / "results.parquet")
    pq.write_table(pa.Table.from_pylist(spc_points), out / "spc.parquet")
    period_starts = sorted({row["period_start"] for row in all_rows})
    meta = {
        "source": str(source),
        "as_of": tables.as_of.isoformat(),
        "first_activity": first.isoformat() if first else None,
        "last_activity": last.isoformat() if last else None,
        "disclosure": {"suppress_below": rule.suppress_below, "round_to": rule.round_to},
        "measures": [_definition_json(m) for m in measures],
        "names": names,
    }
    _write_json(out / "measures.json", meta)
    _write_json(out / "spc_summary.json", spc_summaries)
    _write_json(out / "funnels.json", funnel_data)
    _write_json(out / "inequality.json", inequality)
    _write_json(out / "places.json", places(connection, measures))
    return RunSummary(
        out=out,
        measures=len(measures),
        result_rows=len(all_rows),
        first_period=date.fromisoformat(period_starts[0]) if period_starts else None,
        last_period=date.fromisoformat(period_starts[-1]) if period_starts else None,
    )


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, default=str) + "\n", encoding="utf-8")
