"""Benchmark: SQL on FHIR views V1/V2 — ours (duckdb, spark) vs hand-written DuckDB SQL vs peers.

    python benchmarks/views.py --patients 200000 --observations 1000000 --repeats 3 [--spark]

Generates a source folder (NDJSON and Parquet, ``resource`` column) with a fixed seed, runs
each engine end to end (read + flatten + materialise the rows) and prints a markdown table of
median resources/s. V1 = patient demographics, V2 = final observations × code.coding (issue 6).
Peers (``sqlonfhir``, ``fhir4ds``, ``pysof``) are benchmark-only: install them in a separate
environment (``pip install sqlonfhir fhir4ds pysof``); the table says which ones imported.
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
from pathlib import Path
from typing import Any

import duckdb

from joinedup.views import parse_view
from joinedup.views.engines.duckdb import DuckDBEngine
from joinedup.views.sources import Source

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

# Hand-written DuckDB SQL for the same views: the practical ceiling.
HAND_V1 = f"""
SELECT id, gender, birthDate AS birth_date,
       list_filter(name, lambda n: n.use = 'official')[1].family AS family,
       address[1].postalCode AS postcode,
       list_filter(identifier, lambda i: i.system = '{NHS}')[1].value AS nhs_number
FROM read_ndjson_auto('{{folder}}/Patient.ndjson')
"""
HAND_V2 = """
SELECT o.id, regexp_extract(o.subject.reference, 'Patient/([^/]+)$', 1) AS patient,
       o.effectiveDateTime AS effective, o.valueQuantity.value AS value,
       c.system, c.code
FROM read_ndjson_auto('{folder}/Observation.ndjson') AS o, unnest(o.code.coding) AS t(c)
WHERE o.status = 'final'
"""

LOINC = [("8867-4", "Heart rate"), ("8480-6", "Systolic BP"), ("29463-7", "Body weight")]


def _date(rng: random.Random, year: int) -> str:
    return f"{year}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"


def generate(folder: Path, patients: int, observations: int, seed: int) -> None:
    """NDJSON + Parquet sources: Patients with UK Core-style names/identifiers, Observations
    with LOINC + SNOMED codings (one in ten not final)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "Patient.ndjson").open("w") as out:
        for i in range(patients):
            resource = {
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
            resource = {
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
            out.write(json.dumps(resource, separators=(",", ":")) + "\n")
    parquet = folder / "parquet"
    parquet.mkdir(exist_ok=True)
    for kind in ("Patient", "Observation"):
        duckdb.execute(
            f"COPY (SELECT json AS resource FROM read_ndjson_objects('{folder}/{kind}.ndjson')) "
            f"TO '{parquet}/{kind}.parquet' (FORMAT parquet)"
        )


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


def peer_status() -> dict[str, str]:
    status = {}
    for module in ("sqlonfhir", "fhir4ds", "pysof"):
        try:
            __import__(module)
            status[module] = "imports"
        except Exception as exc:
            status[module] = f"does not import here ({type(exc).__name__}: {str(exc)[:80]})"
    return status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=200_000)
    parser.add_argument("--observations", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--spark", action="store_true", help="also run the Spark engine (1 run)")
    args = parser.parse_args()
    counts = {"v1": args.patients, "v2": args.observations}
    with tempfile.TemporaryDirectory(prefix="joinedup-bench-views-") as scratch:
        folder = Path(scratch)
        start = time.perf_counter()
        generate(folder, args.patients, args.observations, args.seed)
        print(
            f"generated {args.patients} Patients, {args.observations} Observations "
            f"in {time.perf_counter() - start:.0f}s"
        )
        views = {"v1": parse_view(V1), "v2": parse_view(V2)}
        hand = {"v1": HAND_V1, "v2": HAND_V2}
        results: list[tuple[str, str, float, int]] = []
        for key, view in views.items():
            for label, source in (
                ("NDJSON", Source(folder)),
                ("Parquet", Source(folder / "parquet")),
            ):
                sql = DuckDBEngine().compile(view, source).sql()
                seconds, rows = timed(lambda sql=sql: materialise(sql), args.repeats)
                results.append((f"joinedup duckdb ({label})", key, seconds, rows))
            seconds, rows = timed(
                lambda key=key: materialise(hand[key].format(folder=folder)), args.repeats
            )
            results.append(
                ("hand-written DuckDB SQL (NDJSON, read_ndjson_auto)", key, seconds, rows)
            )
            if args.spark:
                from joinedup.views.engines.spark import SparkEngine

                engine = SparkEngine()
                seconds, rows = timed(
                    lambda view=view, engine=engine: engine.dataframe(view, Source(folder)).count(),
                    1,
                )
                results.append(("joinedup spark local[2] (NDJSON)", key, seconds, rows))
        print()
        print("| engine | view | rows | median s | resources/s |")
        print("|---|---|---:|---:|---:|")
        for name, key, seconds, rows in results:
            rate = counts[key] / seconds if seconds else float("inf")
            print(f"| {name} | {key.upper()} | {rows:,} | {seconds:.2f} | {rate:,.0f} |")
        print()
        for module, status in peer_status().items():
            print(f"- peer `{module}`: {status}")


if __name__ == "__main__":
    main()
