"""Compute the whole measure library over a source folder and write the result tables.

views -> numerators/denominators per measure x breakdown x period -> statistics ->
comparisons -> disclosure control -> SPC over the monthly series -> funnels -> files.
Everything written to the out dir has passed disclosure control.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from joinedup.export.disclosure import DisclosureRule
from joinedup.measures.compute.accountability import READS as ACCOUNTABILITY_READS
from joinedup.measures.compute.accountability import group_names, places
from joinedup.measures.compute.aggregate import READS as COUNTING_READS
from joinedup.measures.compute.aggregate import (
    aggregate,
    install_periods,
    install_population,
    reads_population,
)
from joinedup.measures.compute.compare import versus_ics, versus_peers
from joinedup.measures.compute.estimate import Estimates, estimate
from joinedup.measures.compute.funnel import funnels
from joinedup.measures.compute.inequality import inequality_rows
from joinedup.measures.compute.periods import Period, periods
from joinedup.measures.compute.protect import protect
from joinedup.measures.compute.series import POINT_SCHEMA, SPC_BREAKDOWNS, spc_tables
from joinedup.measures.definitions import Grain, MeasureDefinition, MeasureType, load_library
from joinedup.views.library import register_standard_tables, standard_connection
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


RESULT_SCHEMA = pa.schema(
    [
        ("measure_id", pa.string()),
        ("grain", pa.string()),
        ("breakdown", pa.string()),
        ("group_id", pa.string()),
        ("group_name", pa.string()),
        ("period_start", pa.string()),
        ("period_end", pa.string()),
        ("numerator", pa.int64()),
        ("denominator", pa.float64()),
        ("value", pa.float64()),
        ("lower", pa.float64()),
        ("upper", pa.float64()),
        ("suppressed", pa.bool_()),
        ("vs_ics", pa.string()),
        ("peers_above", pa.int64()),
        ("peers_similar", pa.int64()),
        ("peers_below", pa.int64()),
    ]
)
#: The breakdowns :func:`inequality_rows` reads.
_INEQUALITY_BREAKDOWNS = ("core20", "imd_quintile")


def _days(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return np.asarray(values).astype("datetime64[D]").astype(str)


def _result_table(
    measure: MeasureDefinition,
    grain: Grain,
    est: Estimates,
    rule: DisclosureRule,
    names: dict[str, str],
) -> tuple[pa.Table, np.ndarray[Any, Any]]:
    """The published rows of one measure (hidden rows keep only their labels) and which rows
    are hidden."""
    hidden, numerator, denominator = protect(
        est, with_complement=measure.type is MeasureType.proportion, rule=rule
    )
    vs_ics = versus_ics(est, measure.polarity)
    peers = versus_peers(est)
    groups, at = np.unique(est.group_id.astype(str), return_inverse=True)
    size = len(est)

    def shown(values: np.ndarray[Any, Any]) -> pa.Array:
        return pa.array(values, type=pa.float64(), mask=hidden | np.isnan(values))

    columns = {
        "measure_id": pa.array(np.full(size, measure.id)),
        "grain": pa.array(np.full(size, grain.value)),
        "breakdown": pa.array(est.breakdown.astype(str)),
        "group_id": pa.array(groups[at]),
        "group_name": pa.array(np.array([names.get(g, g) for g in groups], dtype=object)[at]),
        "period_start": pa.array(_days(est.period_start)),
        "period_end": pa.array(_days(est.period_end)),
        "numerator": pa.array(numerator, type=pa.int64()),
        "denominator": pa.array(denominator, type=pa.float64()),
        "value": shown(est.value),
        "lower": shown(est.lower),
        "upper": shown(est.upper),
        "suppressed": pa.array(hidden),
        "vs_ics": pa.array(np.where(hidden, "", vs_ics.astype(str))),
        **{
            name: pa.array(count, type=pa.int64(), mask=hidden)
            for name, count in zip(
                ("peers_above", "peers_similar", "peers_below"), peers, strict=True
            )
        },
    }
    return pa.Table.from_pydict(columns, schema=RESULT_SCHEMA), hidden


class _InstalledPeriods:
    """Rebuilds ``periods`` only when the next measure asks for a different set of periods, and
    ``population`` (people x periods, the largest table) only when a measure reads it; the
    person cells once."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        self.current: list[Period] | None = None
        self.population = False

    def use(self, wanted: list[Period], measure: MeasureDefinition) -> None:
        population = reads_population(measure)
        if wanted != self.current:
            cells = self.current is None
            install_periods(self.connection, wanted, population=population, cells=cells)
            self.current, self.population = wanted, population
        elif population and not self.population:
            install_population(self.connection)
            self.population = True


def _warmed_up(first: date, measure: MeasureDefinition) -> date:
    """The first day whose periods have the look-back the measure needs (12 months of blood
    pressures before "controlled in the last 12 months" can be judged)."""
    months = first.year * 12 + first.month - 1 + measure.warm_up_months
    start = date(months // 12, months % 12 + 1, 1)
    return first if measure.warm_up_months == 0 else max(first, start)


_Counts = dict[str, np.ndarray[Any, Any]]


def _count(
    connection: duckdb.DuckDBPyConnection,
    installed: _InstalledPeriods,
    measure: MeasureDefinition,
    grain: Grain,
    first: date,
    last: date,
) -> tuple[_Counts, _Counts | None]:
    """The measure's counts at ``grain`` and, when that is not months, the monthly counts its
    SPC charts need."""
    installed.use(periods(grain, _warmed_up(first, measure), last), measure)
    own = aggregate(connection, measure, (*measure.breakdowns, "core20"))
    if grain is Grain.month:
        return own, None
    installed.use(periods(Grain.month, _warmed_up(first, measure), last), measure)
    spc = [b for b in SPC_BREAKDOWNS if b in measure.breakdowns]
    return own, aggregate(connection, measure, spc)


def _library_sql(measures: list[MeasureDefinition]) -> list[str]:
    """Every numerator and denominator query of the library."""
    return [sql for m in measures for sql in (m.numerator, m.denominator) if sql]


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
    ``connection`` keeps every standard table there for inspection; by default the run has a
    :func:`standard_connection` of its own, with just the tables and columns the library and
    the accountability tables read.
    """
    step = on_step or (lambda _: None)
    rule = rule or DisclosureRule.from_settings()
    measures = load_library(library) if library is not None else load_library()
    reads = (
        None
        if connection is not None
        else [*ACCOUNTABILITY_READS, *COUNTING_READS, *_library_sql(measures)]
    )
    connection = connection if connection is not None else standard_connection()
    step("views")
    tables = register_standard_tables(connection, Source.open(source), reads=reads)
    first, last = tables.first_activity, tables.last_activity
    names = group_names(connection)
    installed = _InstalledPeriods(connection)
    published: list[pa.Table] = []
    spc_points: list[pa.Table] = []
    spc_summaries: list[dict[str, Any]] = []
    funnel_data: list[dict[str, Any]] = []
    inequality: list[dict[str, Any]] = []
    # Measures sharing a period set run together, so ``population`` is rebuilt less often.
    ordered = sorted(measures, key=lambda m: ((grain or m.grain).value, m.warm_up_months, m.id))
    # One thread counts in DuckDB, measure after measure, while this one turns the counts
    # into estimates and tables: DuckDB releases the GIL, so the statistics of one measure
    # run beside the SQL of the next instead of leaving the second core idle.
    counting = ThreadPoolExecutor(max_workers=1, thread_name_prefix="measure-counts")
    try:
        counted = (
            [
                counting.submit(_count, connection, installed, m, grain or m.grain, first, last)
                for m in ordered
            ]
            if first is not None and last is not None
            else []  # no activity recorded, so no periods to count
        )
        for index, measure in enumerate(ordered):
            step(measure.id)
            if not counted:
                continue
            measure_grain = grain or measure.grain
            own, monthly_counts = counted[index].result()
            est = estimate(measure, own)
            results, hidden = _result_table(measure, measure_grain, est, rule, names)
            published.append(results)
            unequal = pc.is_in(results["breakdown"], pa.array(_INEQUALITY_BREAKDOWNS))
            inequality += inequality_rows(measure, results.filter(unequal).to_pylist())
            funnel_data += funnels(measure, est, hidden)
            if monthly_counts is not None:
                monthly = estimate(measure, monthly_counts)
                monthly_hidden = protect(
                    monthly, with_complement=measure.type is MeasureType.proportion, rule=rule
                )[0]
            else:
                monthly, monthly_hidden = est, hidden
            points, summaries = spc_tables(measure, monthly, monthly_hidden)
            spc_points.append(points)
            spc_summaries += summaries
    finally:
        counting.shutdown(cancel_futures=True)
    step("writing")
    out.mkdir(parents=True, exist_ok=True)
    results = pa.concat_tables([RESULT_SCHEMA.empty_table(), *published])
    pq.write_table(results, out / "results.parquet")
    pq.write_table(pa.concat_tables([POINT_SCHEMA.empty_table(), *spc_points]), out / "spc.parquet")
    period_starts = sorted(pc.unique(results["period_start"]).to_pylist())
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
        result_rows=results.num_rows,
        first_period=date.fromisoformat(period_starts[0]) if period_starts else None,
        last_period=date.fromisoformat(period_starts[-1]) if period_starts else None,
    )


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, default=str) + "\n", encoding="utf-8")
