"""Benchmark: the whole starter measure library x all breakdowns x 48 monthly periods.

Goal (issue 7): at most 60 s on 2 cores with DuckDB for a 1M-person ICS. The generator caps at
900,000 people (the NHS number test range); here the size is a parameter. The measures read
what the platform gives analytics, a columnar Parquet snapshot: the generator's NDJSON is
converted once per resource type (``write_columnar``) before any timing, and that conversion is
reported apart as the snapshot's cost. Each run then reports the building of the standard views
(the SQL-on-FHIR engine) apart from the measures themselves (aggregation, statistics,
comparisons, disclosure control, SPC, funnels, inequality), since the view engine is a separate
capability with its own benchmark. Every measure is forced to the monthly grain, so each
computes 48 periods x 9 breakdowns (8 + Core20). Beside the wall-clock seconds it reports the
process's CPU seconds (both DuckDB threads): on a shared machine the wall clock grows with the
other jobs' load, the CPU seconds much less.

Run:  python benchmarks/measures.py --people 50000 --repeats 3
      python benchmarks/measures.py --ndjson /data/ics-900k --repeats 1   (an existing
      generator output; --people is then only the label of its size)
      python benchmarks/measures.py --ndjson /data/ics-900k --columnar /data/ics-900k-parquet
      (converts into that folder the first time and reuses it afterwards: at 900,000 people
      the conversion takes minutes)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from joinedup.measures.compute import compute_measures
from joinedup.measures.definitions import Grain, load_library
from joinedup.synth.generator import SynthOptions, generate
from joinedup.views.columnar import write_columnar

GOAL_SECONDS = 60.0
#: Written into a snapshot folder once every type is converted, with the number of resources.
_CONVERTED = "converted.txt"


def columnar_snapshot(ndjson: Path, out: Path) -> int:
    """Every ``<Type>.ndjson`` of ``ndjson`` as columnar ``<Type>.parquet`` in ``out``; the
    number of resources."""
    out.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as connection:
        resources = sum(
            write_columnar(path, out / f"{path.stem}.parquet", connection)
            for path in sorted(ndjson.glob("*.ndjson"))
        )
    # Written last: a conversion cut short leaves no marker, so the next run converts again.
    (out / _CONVERTED).write_text(f"{resources}\n", encoding="utf-8")
    return resources


def reused_snapshot(folder: Path) -> int | None:
    """The number of resources of a snapshot :func:`columnar_snapshot` finished in ``folder``,
    or None if it has none."""
    marker = folder / _CONVERTED
    return int(marker.read_text(encoding="utf-8")) if marker.is_file() else None


@dataclass(frozen=True)
class Run:
    views: float
    measures: float
    views_cpu: float
    measures_cpu: float
    result_rows: int


def one_run(source: Path, out: Path) -> Run:
    """Wall-clock and CPU seconds of the views and of the measures in one full run."""
    marks: dict[str, tuple[float, float]] = {}

    def step(name: str) -> None:
        marks.setdefault(name, (time.perf_counter(), time.process_time()))

    start = (time.perf_counter(), time.process_time())
    summary = compute_measures(source, out, grain=Grain.month, on_step=step)
    end = (time.perf_counter(), time.process_time())
    first = min(t for name, t in marks.items() if name not in ("views", "writing"))
    return Run(
        views=first[0] - start[0],
        measures=end[0] - first[0],
        views_cpu=first[1] - start[1],
        measures_cpu=end[1] - first[1],
        result_rows=summary.result_rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ndjson", type=Path, help="use this generator output, not a new one")
    parser.add_argument(
        "--columnar",
        type=Path,
        help="keep the columnar snapshot in this folder: converted into it the first time, "
        "reused when it holds a finished one",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        snapshot = args.columnar or Path(folder) / "snapshot"
        resources = reused_snapshot(snapshot)
        synth_note, convert_note = "counted in the reused snapshot", "reused from an earlier run"
        if resources is None:
            ndjson, synth_note = args.ndjson, "given"
            if ndjson is None:
                ndjson = Path(folder) / "ics"
                ndjson.mkdir()
                began = time.perf_counter()
                generate(SynthOptions(people=args.people, seed=args.seed, out=ndjson))
                synth_note = f"generated in {time.perf_counter() - began:.1f} s"
            began = time.perf_counter()
            resources = columnar_snapshot(ndjson, snapshot)
            convert_note = f"{time.perf_counter() - began:.1f} s"
        runs = [one_run(snapshot, Path(folder) / f"out-{i}") for i in range(args.repeats)]
    views = statistics.median(r.views for r in runs)
    measures = statistics.median(r.measures for r in runs)
    views_cpu = statistics.median(r.views_cpu for r in runs)
    measures_cpu = statistics.median(r.measures_cpu for r in runs)
    n_measures = len(load_library())
    scale = 1_000_000 / args.people
    total = views + measures
    print(f"Synthetic ICS: {args.people:,} people, {resources:,} resources ({synth_note})")
    print(
        f"Columnar Parquet snapshot (write_columnar, once per type): {convert_note}, "
        "not counted below"
    )
    print(
        f"Median of {args.repeats} runs; {n_measures} measures x 9 breakdowns x 48 months = "
        f"{runs[0].result_rows:,} result rows\n"
    )
    print("| phase | median s | CPU s | x(1M / people), linear guess | goal (1M people) |")
    print("|---|---:|---:|---:|---|")
    for phase, seconds, cpu, goal in (
        ("standard views (SQL-on-FHIR DuckDB engine, columnar Parquet)", views, views_cpu, "—"),
        (
            "measures: counts, stats, disclosure, SPC, funnels, inequality",
            measures,
            measures_cpu,
            "—",
        ),
        ("whole library end to end", total, views_cpu + measures_cpu, f"≤ {GOAL_SECONDS:.0f} s"),
    ):
        print(f"| {phase} | {seconds:.1f} | {cpu:.1f} | {seconds * scale:,.0f} | {goal} |")


if __name__ == "__main__":
    main()
