"""Bulk ingest of the Synthea R4 bundles into the record store: resources per second.

Side by side in one run, per store (SQLite, and PostgreSQL when reachable):
- ``bulk_load``: the batched path ``joinedup load`` uses (executemany on SQLite, COPY on
  PostgreSQL), one database transaction per Synthea bundle, index rows extracted partly by its
  worker process (``joinedup.store.extraction``);
- ``bulk_load``, extraction in process: the same with the worker switched off;
- ``transaction``: one ``store.transaction()`` per bundle with one ``tx.update`` per resource
  (what a FHIR transaction Bundle costs through the generic write path);
- ``naive``: the baseline, one single-resource transaction per resource, no batching.
The two per-resource paths run on the first ``--subset`` bundles only (they are slow; the rate
is per resource either way). Besides wall-clock rates the table gives the loader's CPU rate
(resources per CPU-second of the loading process and its extraction worker together), which is
what a per-core comparison needs on a machine shared with other work; for PostgreSQL the
server's CPU is not included in it.
Published anchors for comparison (8 vCPU): Aidbox 2,678/s, HAPI 2,214/s; goals on this 2-core
machine: >= 5,000/s SQLite, >= 3,000/s PostgreSQL.

References are resolved before timing (``urn:uuid:X`` -> ``Type/X``; Synthea gives every
resource its uuid as id), so the figures are the store's alone. The organisation and
practitioner bundles load first. Each configuration runs ``--repeat`` times on a fresh store
(the repeats of all paths alternate); the median is reported.

    python benchmarks/record_ingest.py                   # all 102 bundles, 3 repeats
    python benchmarks/record_ingest.py --bundles 20 --repeat 1 --subset 5
    python benchmarks/record_ingest.py --postgres postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from resource import RUSAGE_CHILDREN, getrusage
from typing import Any

from joinedup.store import Store, extraction, open_store

REFERENCE = Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "synthea-r4"


def _rewrite(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, dict):
        ref = value.get("reference")
        out = {k: _rewrite(v, mapping) for k, v in value.items()}
        if isinstance(ref, str) and ref in mapping:
            out["reference"] = mapping[ref]
        return out
    if isinstance(value, list):
        return [_rewrite(v, mapping) for v in value]
    return value


def synthea_bundles(folder: Path, limit: int | None) -> list[list[dict[str, Any]]]:
    """Each bundle's resources with urn:uuid references resolved; info bundles first."""
    files = sorted(folder.glob("*.json"))
    info = [f for f in files if "Information" in f.name]
    patients = [f for f in files if "Information" not in f.name]
    if limit is not None:
        patients = patients[:limit]
    bundles = []
    for path in info + patients:
        entries = json.loads(path.read_text("utf-8"))["entry"]
        mapping = {
            e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in entries
        }
        bundles.append([_rewrite(e["resource"], mapping) for e in entries])
    return bundles


Loader = Callable[[Store, list[list[dict[str, Any]]]], None]


def load_bulk(store: Store, bundles: list[list[dict[str, Any]]]) -> None:
    for bundle in bundles:
        store.bulk_load(bundle)


def load_bulk_in_process(store: Store, bundles: list[list[dict[str, Any]]]) -> None:
    worker_from = extraction.WORKER_FROM
    extraction.WORKER_FROM = sys.maxsize
    try:
        load_bulk(store, bundles)
    finally:
        extraction.WORKER_FROM = worker_from


def load_transaction(store: Store, bundles: list[list[dict[str, Any]]]) -> None:
    for bundle in bundles:
        with store.transaction() as tx:
            for resource in bundle:
                tx.update(resource)


def load_naive(store: Store, bundles: list[list[dict[str, Any]]]) -> None:
    for bundle in bundles:
        for resource in bundle:
            store.update(resource)


@contextmanager
def fresh_store(kind: str, postgres: str | None) -> Iterator[Store]:
    if kind == "SQLite":
        with tempfile.TemporaryDirectory() as folder:
            store = open_store(f"sqlite:///{folder}/record.db")
            try:
                yield store
            finally:
                store.close()
        return
    import psycopg

    assert postgres is not None
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    store = open_store(
        f"{postgres}{'&' if '?' in postgres else '?'}options=-csearch_path%3D{schema}"
    )
    try:
        yield store
    finally:
        store.close()
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def measure(
    kind: str, postgres: str | None, load: Loader, bundles: list[list[dict[str, Any]]]
) -> tuple[float, float]:
    """Wall-clock and loader-CPU rates (resources/s) of one load into a fresh store."""
    count = sum(len(b) for b in bundles)
    children = _children_cpu()
    with fresh_store(kind, postgres) as store:
        started, started_cpu = time.perf_counter(), time.process_time()
        load(store, bundles)
        wall = count / (time.perf_counter() - started)
        used = time.process_time() - started_cpu
    # Closing the store ended (and reaped) its worker, so its CPU time is counted now.
    return wall, count / (used + _children_cpu() - children)


def _children_cpu() -> float:
    usage = getrusage(RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference", type=Path, default=REFERENCE)
    parser.add_argument("--bundles", type=int, default=None, help="patient bundles (default all)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--subset", type=int, default=12, help="bundles for the per-resource paths (default 12)"
    )
    args = parser.parse_args()

    bundles = synthea_bundles(args.reference, args.bundles)
    subset = bundles[: args.subset]
    kinds = ["SQLite"] + ([] if args.no_postgres else ["PostgreSQL"])
    loaders: list[tuple[str, Loader, list[list[dict[str, Any]]]]] = [
        ("bulk_load (batched)", load_bulk, bundles),
        ("bulk_load, extraction in process", load_bulk_in_process, bundles),
        ("transaction, tx.update per resource", load_transaction, subset),
        ("naive: one transaction per resource", load_naive, subset),
    ]
    print(f"median of {args.repeat} run(s); machine: {os.cpu_count()} cores\n")
    print("| store | path | resources | resources/s (wall) | resources/s (loader CPU) |")
    print("|---|---|---:|---:|---:|")
    for kind in kinds:
        # Repeats go round the paths in turn, so that a change in the machine's load falls on
        # every path alike.
        rates: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in loaders}
        for _ in range(args.repeat):
            for name, load, data in loaders:
                rates[name].append(measure(kind, args.postgres, load, data))
        for name, _, data in loaders:
            wall = statistics.median(rate[0] for rate in rates[name])
            cpu = statistics.median(rate[1] for rate in rates[name])
            count = sum(len(b) for b in data)
            print(f"| {kind} | {name} | {count:,} | {wall:,.0f} | {cpu:,.0f} |", flush=True)
    print("| Aidbox (published, 8 vCPU) | transaction bundles | | 2,678 | |")
    print("| HAPI FHIR (published, 8 vCPU) | transaction bundles | | 2,214 | |")


if __name__ == "__main__":
    main()
