"""``bulk_load`` with its index-extraction worker process writes exactly what it writes without
one, and a worker that fails or dies leaves nothing of the load behind."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from test_store_synthea import synthea_bundles

from joinedup.fhir.outcome import FHIRError
from joinedup.store import Store, extraction, parse_search, sql_store, writes
from joinedup.store.indexing import index_resource
from joinedup.store.schema import INDEX_TABLES

TABLES = (
    "resource",
    "resource_history",
    "conditional_claim",
    "patient_compartment",
    "resource_security",
    *INDEX_TABLES,
)
NOW = "2026-11-23T01:00:00.000000+00:00"


def _dump(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every store table, JSON as text, in a stable order."""
    dumped = {}
    with store.transaction() as tx:
        for table in TABLES:
            columns = [
                "content::text" if name == "content" and store.dialect == "postgresql" else name
                for name in _columns(tx, store.dialect, table)
            ]
            rows = tx.execute(f"SELECT {', '.join(columns)} FROM {table}")
            dumped[table] = sorted(rows, key=repr)
    return dumped


def _columns(tx: Any, dialect: str, table: str) -> list[str]:
    if dialect == "sqlite":
        return [row[1] for row in tx.execute(f"PRAGMA table_info({table})")]
    return [
        row[0]
        for row in tx.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            [table],
        )
    ]


class _Spy:
    """Counts the chunks the worker process extracted (as opposed to the writer)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.from_worker = 0
        self.workers: list[extraction.ExtractionWorker] = []
        receive = extraction.ExtractionWorker.receive
        start = extraction.ExtractionWorker.__init__

        def counted(worker: extraction.ExtractionWorker) -> extraction.IndexRows | None:
            rows = receive(worker)
            self.from_worker += rows is not None
            return rows

        def started(worker: extraction.ExtractionWorker) -> None:
            start(worker)
            self.workers.append(worker)

        monkeypatch.setattr(extraction.ExtractionWorker, "receive", counted)
        monkeypatch.setattr(extraction.ExtractionWorker, "__init__", started)


@pytest.mark.slow
def test_the_worker_writes_the_same_rows_as_the_writer_alone(
    store: Store, shared_store: Store, reference_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundles = synthea_bundles(reference_dir / "synthea-r4")
    # The same lastUpdated on both sides, so that the stored JSON can match byte for byte.
    monkeypatch.setattr(sql_store, "now_instant", lambda: NOW)
    monkeypatch.setattr(writes, "now_instant", lambda: NOW)
    spy = _Spy(monkeypatch)
    monkeypatch.setattr(extraction, "WORKER_FROM", 10**9)
    for bundle in bundles:
        store.bulk_load(bundle)
    assert spy.workers == []
    monkeypatch.setattr(extraction, "WORKER_FROM", 1)
    for bundle in bundles:
        shared_store.bulk_load(bundle)
    assert len(spy.workers) == 1 and spy.from_worker > 100
    in_process, with_worker = _dump(store), _dump(shared_store)
    # 29,146 entries, 28,800 distinct resources: the rest update one an earlier bundle wrote.
    assert len(in_process["resource"]) == 28_800
    assert len(in_process["resource_history"]) == 29_146
    assert len(in_process["idx_token"]) > 100_000
    for table in TABLES:
        assert with_worker[table] == in_process[table], table


def _patients(first: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "resourceType": "Patient",
            "id": f"p{n}",
            "name": [{"family": f"Family{n}", "given": ["Alex"]}],
            "birthDate": "1970-01-01",
        }
        for n in range(first, first + count)
    ]


def _counts(store: Store) -> dict[str, int]:
    with store.transaction() as tx:
        return {table: tx.execute(f"SELECT COUNT(*) FROM {table}")[0][0] for table in TABLES}


def test_a_worker_killed_mid_load_leaves_nothing_of_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.bulk_load(_patients(0, 10))
    before = _counts(store)
    spy = _Spy(monkeypatch)
    send = extraction.ExtractionWorker.send

    def killing(worker: extraction.ExtractionWorker, *args: Sequence[Any]) -> None:
        send(worker, *args)
        pid = spy.workers[-1]._process.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)

    monkeypatch.setattr(extraction.ExtractionWorker, "send", killing)
    with pytest.raises(FHIRError) as raised:
        store.bulk_load(_patients(100, 5 * extraction.WORKER_FROM))
    assert raised.value.status == 500
    assert "index-extraction worker process ended unexpectedly" in raised.value.diagnostics
    assert "nothing of this load was written" in raised.value.diagnostics
    assert _counts(store) == before
    # The next load starts a new worker and writes everything.
    monkeypatch.setattr(extraction.ExtractionWorker, "send", send)
    loaded = 5 * extraction.WORKER_FROM
    assert store.bulk_load(_patients(100, loaded)) == loaded
    assert len(spy.workers) == 2
    assert _counts(store)["resource"] == before["resource"] + loaded


def test_a_resource_the_worker_cannot_index_fails_the_load_as_without_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(resource: dict[str, Any]) -> Any:
        if resource["id"] == "p150":
            raise ValueError("cannot index p150")
        return index_resource(resource)

    # Patched before the worker starts, so the forked worker and the writer both fail on it.
    monkeypatch.setattr(extraction, "index_resource", failing)
    spy = _Spy(monkeypatch)
    with pytest.raises(ValueError, match="cannot index p150"):
        store.bulk_load(_patients(100, 5 * extraction.WORKER_FROM))
    assert _counts(store)["resource"] == 0
    assert len(spy.workers) == 1 and spy.from_worker >= 1
    monkeypatch.setattr(extraction, "index_resource", index_resource)
    assert store.bulk_load(_patients(100, 5 * extraction.WORKER_FROM)) == 5 * extraction.WORKER_FROM


def test_small_loads_stay_in_process_and_closing_the_store_ends_the_worker(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = _Spy(monkeypatch)
    store.bulk_load(_patients(0, extraction.WORKER_FROM - 1))
    assert spy.workers == []
    store.bulk_load(_patients(10_000, extraction.WORKER_FROM))
    assert len(spy.workers) == 1 and spy.from_worker > 0
    process = spy.workers[0]._process
    store.close()
    assert not process.is_alive() and process.exitcode == 0


def test_a_spawned_worker_serves_where_fork_is_not_used(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What macOS and Windows get: a fresh interpreter that imports the extractors itself.
    monkeypatch.setattr(extraction, "_context", lambda: multiprocessing.get_context("spawn"))
    spy = _Spy(monkeypatch)
    loaded = 5 * extraction.WORKER_FROM
    assert store.bulk_load(_patients(0, loaded)) == loaded
    assert len(spy.workers) == 1 and spy.from_worker > 0
    found = store.search(parse_search("Patient", [("given", "alex"), ("_summary", "count")]))
    assert found.total == loaded
