"""Concurrency the database must guarantee: real threads, and a real process killed with -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from joinedup.store import Store, VersionConflict, WriteResult, parse_search

NHS = "https://fhir.nhs.uk/Id/nhs-number"


def test_parallel_conditional_creates_make_exactly_one_patient(store: Store) -> None:
    workers = 50
    barrier = threading.Barrier(workers)
    body = {"resourceType": "Patient", "identifier": [{"system": NHS, "value": "9990000018"}]}

    def create(_: int) -> WriteResult:
        barrier.wait()
        return store.create(body, if_none_exist=[("identifier", f"{NHS}|9990000018")])

    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(create, range(workers)))
    assert sorted(r.outcome for r in results).count("created") == 1
    assert {r.stored.id for r in results if r.stored} == {
        next(r.stored.id for r in results if r.outcome == "created" and r.stored)
    }
    assert store.search(parse_search("Patient", [("identifier", f"{NHS}|9990000018")])).total == 1


def test_parallel_if_match_updates_lose_nothing(store: Store) -> None:
    store.create(
        {"resourceType": "Basic", "extension": [{"url": "urn:test:counter", "valueInteger": 0}]},
        id="counter",
    )
    threads, increments = 8, 10
    conflicts = [0] * threads
    barrier = threading.Barrier(threads)

    def work(n: int) -> None:
        barrier.wait()
        done = 0
        while done < increments:
            current = store.read("Basic", "counter")
            assert current.resource is not None
            body: dict[str, Any] = dict(current.resource)
            value = body["extension"][0]["valueInteger"]
            body["extension"] = [{"url": "urn:test:counter", "valueInteger": value + 1}]
            try:
                store.update(body, if_match=current.version_id)
                done += 1
            except VersionConflict:
                conflicts[n] += 1

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    final = store.read("Basic", "counter")
    assert final.resource is not None
    assert final.resource["extension"][0]["valueInteger"] == threads * increments
    assert final.version_id == 1 + threads * increments
    history = store.history("Basic", "counter", count=1000)
    assert [e.version_id for e in history.entries] == list(range(final.version_id, 0, -1))


def test_same_version_if_match_exactly_one_wins(store: Store) -> None:
    store.create({"resourceType": "Patient"}, id="contested")
    workers = 12
    barrier = threading.Barrier(workers)

    def update(n: int) -> str:
        barrier.wait()
        try:
            store.update(
                {
                    "resourceType": "Patient",
                    "id": "contested",
                    "gender": "other",
                    "birthDate": f"20{n:02d}",
                },
                if_match=1,
            )
            return "won"
        except VersionConflict:
            return "conflict"

    with ThreadPoolExecutor(workers) as pool:
        outcomes = list(pool.map(update, range(workers)))
    assert outcomes.count("won") == 1 and outcomes.count("conflict") == workers - 1
    assert store.read("Patient", "contested").version_id == 2


_LOADER = """
import sys
from joinedup.store import open_store
store = open_store(sys.argv[1])
batch = 0
while True:
    resources = [{"resourceType": "Patient", "id": f"b{batch}",
                  "identifier": [{"system": "urn:batch", "value": str(batch)}]}]
    resources += [{"resourceType": "Observation", "id": f"b{batch}-o{i}", "status": "final",
                   "code": {"text": "x"}, "subject": {"reference": f"Patient/b{batch}"},
                   "identifier": [{"system": "urn:batch", "value": str(batch)}]}
                  for i in range(199)]
    if batch % 2:
        with store.transaction() as tx:
            for resource in resources:
                tx.update(resource)
    else:
        store.bulk_load(resources)
    print(batch, flush=True)
    batch += 1
"""


def test_kill_9_mid_load_leaves_only_whole_transactions(store: Store, store_url: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", _LOADER, store_url],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    reported = [int(process.stdout.readline()) for _ in range(4)]
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stdout.close()
    assert process.returncode == -signal.SIGKILL

    sizes: dict[str, int] = {}
    for resource in store.iter_resources(["Patient", "Observation"]):
        assert resource.resource is not None
        batch = resource.resource["identifier"][0]["value"]
        sizes[batch] = sizes.get(batch, 0) + 1
    # Every reported commit is there, whole; at most one more (committed just before the
    # kill, not yet reported) and it is whole too; nothing partial.
    assert all(str(b) in sizes for b in reported)
    assert set(sizes.values()) == {200}
    assert len(sizes) in (len(reported), len(reported) + 1)
    assert store.search(parse_search("Observation", [("_summary", "count")])).total == 199 * len(
        sizes
    )
