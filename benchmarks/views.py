"""Benchmark: SQL on FHIR views V1/V2 — ours (duckdb, spark) vs hand-written DuckDB SQL vs peers.

    python benchmarks/views.py --patients 200000 --observations 1000000 --repeats 3 [--spark]

Generates a source folder (NDJSON; JSON-text Parquet, a ``resource`` column; columnar Parquet,
typed nested columns) with a fixed seed, runs each engine end to end (read + flatten +
materialise the rows) and prints a markdown table of median resources/s. Hand-written DuckDB
SQL runs over NDJSON and over the columnar Parquet, so each of ours has a ceiling on its
own source. V1 = patient demographics, V2 = final observations × code.coding (issue 6).
Peers (``sqlonfhir``, ``fhir4ds``, ``pysof``) are benchmark-only, installed outside the
project environment and used only with ``--peer-path``:

    pip install --target /tmp/views-peers sqlonfhir fhir4ds pysof
    # pysof's wheel bundles an OpenSSL built for glibc >= 2.38; on Debian 12 (glibc 2.36) point
    # its bundled libcrypto/libssl at the system OpenSSL 3 so that it loads (benchmark only):
    for lib in libcrypto libssl; do
        ln -sf /usr/lib/x86_64-linux-gnu/$lib.so.3 /tmp/views-peers/pysof.libs/$lib-*.so.3
    done
    python benchmarks/views.py --patients 20000 --observations 100000 \
        --peer-path /tmp/views-peers --peer-patients 20000 --peer-observations 100000

Peers run V1/V2 end to end from the same generator's NDJSON at the (smaller) peer size, next
to ours at that size, with their row counts checked against ours, and the official SQL on FHIR
v2 suite (``--suite``) through each peer's API for its conformance score.
The machine this runs on may be shared: take the medians, not single runs.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import duckdb

from joinedup.views import ViewDefinition, parse_view
from joinedup.views.columnar import write_columnar
from joinedup.views.engines.duckdb import DuckDBEngine
from joinedup.views.sources import Source
from views_peers import Peer, add_peer_path, conformance, load_peers, run_ndjson

NHS = "https://fhir.nhs.uk/Id/nhs-number"
V1: dict[str, Any] = {
    "resourceType": "ViewDefinition",
    "name": "v1_patient_demographics",
    "resource": "Patient",
    "select": [
        {
            "column": [
                {"name": "id", "path": "getResourceKey()", "type": "string"},
                {"name": "gender", "path": "gender", "type": "code"},
                {"name": "birth_date", "path": "birthDate", "type": "date"},
                {
                    "name": "family",
                    "path": "name.where(use = 'official').family.first()",
                    "type": "string",
                },
                {"name": "postcode", "path": "address.postalCode.first()", "type": "string"},
                {
                    "name": "nhs_number",
                    "path": f"identifier.where(system = '{NHS}').value.first()",
                    "type": "string",
                },
            ]
        }
    ],
}
V2: dict[str, Any] = {
    "resourceType": "ViewDefinition",
    "name": "v2_observations",
    "resource": "Observation",
    "where": [{"path": "status = 'final'"}],
    "select": [
        {
            "column": [
                {"name": "id", "path": "getResourceKey()", "type": "string"},
                {"name": "patient", "path": "subject.getReferenceKey(Patient)", "type": "string"},
                {"name": "effective", "path": "effective.ofType(dateTime)", "type": "dateTime"},
                {"name": "value", "path": "value.ofType(Quantity).value", "type": "decimal"},
            ]
        },
        {
            "forEach": "code.coding",
            "column": [
                {"name": "system", "path": "system", "type": "uri"},
                {"name": "code", "path": "code", "type": "code"},
            ],
        },
    ],
}

# The nearest views fhir4ds can run: its compiler turns a where() inside a column path into
# invalid SQL, and it returns no rows under forEach. V1 without the where() filters (first
# name, first identifier), V2 without forEach (first coding). Used only for a peer that fails
# the real view, next to ours on the same simplified view.
SIMPLE_V1: dict[str, Any] = {
    **V1,
    "name": "v1_simplified",
    "select": [
        {
            "column": [
                *V1["select"][0]["column"][:3],
                {"name": "family", "path": "name.family.first()", "type": "string"},
                V1["select"][0]["column"][4],
                {"name": "nhs_number", "path": "identifier.value.first()", "type": "string"},
            ]
        }
    ],
}
SIMPLE_V2: dict[str, Any] = {
    **V2,
    "name": "v2_simplified",
    "select": [
        {
            "column": [
                *V2["select"][0]["column"],
                {"name": "code", "path": "code.coding.code.first()", "type": "code"},
            ]
        }
    ],
}
SIMPLIFIED = {"v1": SIMPLE_V1, "v2": SIMPLE_V2}

# Hand-written DuckDB SQL for the same views: the practical ceiling. {source} is a reader.
HAND_V1 = f"""
SELECT id, gender, birthDate AS birth_date,
       list_filter(name, lambda n: n.use = 'official')[1].family AS family,
       address[1].postalCode AS postcode,
       list_filter(identifier, lambda i: i.system = '{NHS}')[1].value AS nhs_number
FROM {{source}}
"""
HAND_V2 = """
SELECT o.id, regexp_extract(o.subject.reference, 'Patient/([^/]+)$', 1) AS patient,
       o.effectiveDateTime AS effective, o.valueQuantity.value AS value,
       c.system, c.code
FROM {source} AS o, unnest(o.code.coding) AS t(c)
WHERE o.status = 'final'
"""
HAND_READERS = {
    "NDJSON, read_ndjson_auto": "read_ndjson_auto('{folder}/{kind}.ndjson')",
    "columnar Parquet": "read_parquet('{folder}/columnar/{kind}.parquet')",
}

LOINC = [("8867-4", "Heart rate"), ("8480-6", "Systolic BP"), ("29463-7", "Body weight")]


def _date(rng: random.Random, year: int) -> str:
    return f"{year}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"


def generate(folder: Path, patients: int, observations: int, seed: int) -> None:
    """NDJSON, JSON-text Parquet (``parquet/``) and columnar Parquet (``columnar/``) sources:
    Patients with UK Core-style names/identifiers, Observations with LOINC + SNOMED codings
    (one in ten not final)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "Patient.ndjson").open("w") as out:
        for i in range(patients):
            resource: dict[str, Any] = {
                "resourceType": "Patient",
                "id": f"p{i}",
                "identifier": [{"system": NHS, "value": f"9{rng.randrange(10**9):09d}"}],
                "name": [
                    {"use": "official", "family": f"Family{rng.randrange(5000)}", "given": ["A"]},
                    {"use": "usual", "given": ["Al"]},
                ],
                "gender": rng.choice(["male", "female"]),
                "birthDate": _date(rng, rng.randrange(1920, 2024)),
                "address": [{"postalCode": f"LS{rng.randrange(1, 30)} {rng.randrange(10)}AB"}],
            }
            out.write(json.dumps(resource, separators=(",", ":")) + "\n")
    with (folder / "Observation.ndjson").open("w") as out:
        for i in range(observations):
            code, text = rng.choice(LOINC)
            observation: dict[str, Any] = {
                "resourceType": "Observation",
                "id": f"o{i}",
                "status": "final" if rng.random() > 0.1 else "preliminary",
                "code": {
                    "coding": [
                        {"system": "http://loinc.org", "code": code, "display": text},
                        {
                            "system": "http://snomed.info/sct",
                            "code": str(rng.randrange(10**6, 10**7)),
                        },
                    ]
                },
                "subject": {"reference": f"Patient/p{rng.randrange(max(patients, 1))}"},
                "effectiveDateTime": f"{_date(rng, 2024)}T10:00:00Z",
                "valueQuantity": {"value": round(rng.uniform(40, 180), 1), "unit": "1/min"},
            }
            out.write(json.dumps(observation, separators=(",", ":")) + "\n")
    parquet, columnar = folder / "parquet", folder / "columnar"
    parquet.mkdir(exist_ok=True)
    columnar.mkdir(exist_ok=True)
    for kind in ("Patient", "Observation"):
        duckdb.execute(
            f"COPY (SELECT json AS resource FROM read_ndjson_objects('{folder}/{kind}.ndjson')) "
            f"TO '{parquet}/{kind}.parquet' (FORMAT parquet)"
        )
        write_columnar(folder / f"{kind}.ndjson", columnar / f"{kind}.parquet")


def timed(run: Callable[[], int], repeats: int) -> tuple[float, int]:
    times, rows = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        rows = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), rows


def materialise(sql: str) -> int:
    """Run ``sql`` into a table (so no column can be pruned away) and count its rows."""
    connection = duckdb.connect()
    connection.execute(f"CREATE TEMP TABLE result AS {sql}")
    found = connection.execute("SELECT count(*) FROM result").fetchall()
    return int(found[0][0])


SUITE = Path(__file__).resolve().parents[2] / "shared/reference/sql-on-fhir-v2/tests"
# engine, view, resources, median s, rows, our DuckDB engine's rows on the same data (peers)
Result = tuple[str, str, int, float, int, int | None]


def run_ours(folder: Path, counts: dict[str, int], repeats: int, parquet: bool) -> list[Result]:
    """Our DuckDB engine (NDJSON, optionally JSON-text and columnar Parquet) and the
    hand-written SQL ceiling (over NDJSON, and over columnar Parquet with ``parquet``)."""
    results: list[Result] = []
    for key, view, kind in (
        ("v1", parse_view(V1), "Patient"),
        ("v2", parse_view(V2), "Observation"),
    ):
        sources = [("NDJSON", Source(folder))]
        if parquet:
            sources.append(("JSON-text Parquet", Source(folder / "parquet")))
            sources.append(("columnar Parquet", Source(folder / "columnar")))
        for label, source in sources:
            sql = DuckDBEngine().compile(view, source).sql()
            seconds, rows = timed(partial(materialise, sql), repeats)
            results.append((f"joinedup duckdb ({label})", key, counts[key], seconds, rows, None))
        readers = HAND_READERS if parquet else dict(list(HAND_READERS.items())[:1])
        for label, reader in readers.items():
            source_sql = reader.format(folder=folder, kind=kind)
            hand = {"v1": HAND_V1, "v2": HAND_V2}[key].format(source=source_sql)
            seconds, rows = timed(partial(materialise, hand), repeats)
            name = f"hand-written DuckDB SQL ({label})"
            results.append((name, key, counts[key], seconds, rows, None))
    return results


def spark_rows(engine: Any, view: ViewDefinition, folder: Path) -> int:
    return int(engine.dataframe(view, Source(folder)).count())


def run_peer(
    peer: Peer, folder: Path, counts: dict[str, int], ours: dict[str, int], repeats: int
) -> tuple[list[Result], list[str]]:
    """The peer's timings (with ``ours``, our row count per view, to check them against), and
    a note for each view it could not run. A peer that fails a view or returns other rows is
    also timed on the simplified view, next to our engine on the same simplified view."""
    results: list[Result] = []
    failures: list[str] = []
    for key, kind in (("v1", "Patient"), ("v2", "Observation")):
        ndjson = folder / f"{kind}.ndjson"
        view = {"v1": V1, "v2": V2}[key]
        rows = None
        try:
            seconds, rows = timed(partial(run_ndjson, peer, view, ndjson), repeats)
            results.append((f"{peer.name} (NDJSON)", key, counts[key], seconds, rows, ours[key]))
        except Exception as exc:  # a peer failing a view is a result, not a crash
            failures.append(f"- `{peer.name}` {key.upper()}: failed, {type(exc).__name__}: {exc}")
        if rows == ours[key]:
            continue
        simple = SIMPLIFIED[key]
        for label, source in (
            ("NDJSON", Source(folder)),
            ("columnar Parquet", Source(folder / "columnar")),
        ):
            sql = DuckDBEngine().compile(parse_view(simple), source).sql()
            seconds, our_rows = timed(partial(materialise, sql), repeats)
            name = f"joinedup duckdb ({label}), simplified view"
            results.append((name, key, counts[key], seconds, our_rows, None))
        try:
            seconds, rows = timed(partial(run_ndjson, peer, simple, ndjson), repeats)
        except Exception as exc:
            failures.append(f"- `{peer.name}` simplified {key.upper()}: failed, {exc}")
            continue
        name = f"{peer.name} (NDJSON), simplified view"
        results.append((name, key, counts[key], seconds, rows, our_rows))
    return results, failures


def print_table(results: list[Result]) -> None:
    print("| engine | view | resources | rows | median s | resources/s |")
    print("|---|---|---:|---:|---:|---:|")
    for name, key, resources, seconds, rows, ours in results:
        rate = resources / seconds if seconds else float("inf")
        check = "" if ours in (None, rows) else f" (ours: {ours:,})"
        print(
            f"| {name} | {key.upper()} | {resources:,} | {rows:,}{check} "
            f"| {seconds:.2f} | {rate:,.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=200_000)
    parser.add_argument("--observations", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--spark", action="store_true", help="also run the Spark engine (1 run)")
    parser.add_argument(
        "--peer-path",
        type=Path,
        help="folder the peers were pip-installed into (--target); without it no peer runs",
    )
    parser.add_argument("--peer-patients", type=int, default=20_000)
    parser.add_argument("--peer-observations", type=int, default=100_000)
    parser.add_argument("--suite", type=Path, default=SUITE, help="the SQL on FHIR v2 tests/")
    args = parser.parse_args()
    counts = {"v1": args.patients, "v2": args.observations}
    with tempfile.TemporaryDirectory(prefix="joinedup-bench-views-") as scratch:
        folder = Path(scratch) / "main"
        start = time.perf_counter()
        generate(folder, args.patients, args.observations, args.seed)
        print(
            f"generated {args.patients} Patients, {args.observations} Observations "
            f"in {time.perf_counter() - start:.0f}s"
        )
        results = run_ours(folder, counts, args.repeats, parquet=True)
        if args.spark:
            from joinedup.views.engines.spark import SparkEngine

            engine = SparkEngine()
            for key, view in (("v1", parse_view(V1)), ("v2", parse_view(V2))):
                seconds, rows = timed(partial(spark_rows, engine, view, folder), 1)
                results.append(
                    ("joinedup spark local[2] (NDJSON)", key, counts[key], seconds, rows, None)
                )
        scores: list[str] = []
        if args.peer_path is None:
            scores.append("- peers: not run (pass --peer-path FOLDER; see this script's docstring)")
        else:
            add_peer_path(args.peer_path)
            peers, failures = load_peers()
            peer_counts = {"v1": args.peer_patients, "v2": args.peer_observations}
            peer_folder, ours_at_peer_size = folder, results
            if peer_counts != counts:
                peer_folder = Path(scratch) / "peers"
                generate(peer_folder, args.peer_patients, args.peer_observations, args.seed)
                ours_at_peer_size = run_ours(peer_folder, peer_counts, args.repeats, parquet=True)
                results += ours_at_peer_size
            ours = {
                result[1]: result[4]
                for result in ours_at_peer_size
                if result[0] == "joinedup duckdb (NDJSON)"
            }
            for peer in peers:
                timings, failed_views = run_peer(peer, peer_folder, peer_counts, ours, args.repeats)
                results += timings
                scores += failed_views
                score = conformance(peer, args.suite)
                scores.append(
                    f"- `{peer.name}` conformance: {score.passed}/{score.total} "
                    f"(failed: {', '.join(score.failed) or 'none'})"
                )
            for name, error in failures.items():
                scores.append(f"- `{name}` does not import here: {error}")
        print()
        print_table(results)
        print()
        print("\n".join(scores))


if __name__ == "__main__":
    main()
