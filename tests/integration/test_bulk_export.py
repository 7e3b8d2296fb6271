"""Bulk Data $export over real HTTP: kick-off, polling, manifest, download, cancel, restart,
who may export, and the Synthea round trip (export, re-load into an empty store, compare)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI

from joinedup.access.principal import Principal, Role
from joinedup.access.scopes import ScopeSet
from joinedup.access.tokens import dev_token
from joinedup.config import Settings
from joinedup.export.bulk.jobs import JobTable
from joinedup.export.bulk.request import parse_kickoff
from joinedup.record.load import Loader, source_files
from joinedup.server.app import create_app
from joinedup.store import Store, open_store

ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}
#: A handful of Synthea bundles (plus the organisations and practitioners they point at) keep
#: the suite fast; `benchmarks/export.py --round-trip SYNTHEA_DIR` runs all 100.
SYNTHEA_PEOPLE = 6
POLLS = 2_000


def principal(subject: str, scope: str, role: Role = Role.SYSTEM) -> Principal:
    return Principal(subject, role, ScopeSet.parse(scope), org="A81001")


BACKEND = principal("backend-1", "system/*.rs")


@dataclass
class Server:
    url: str
    store: Store
    data_dir: Path

    def client(self, who: Principal = BACKEND) -> contextlib.AbstractContextManager[httpx.Client]:
        return client_as(who, self.data_dir)

    @property
    def exports(self) -> Path:
        return self.data_dir / "bulk-export"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def client_as(who: Principal, data_dir: Path) -> Iterator[httpx.Client]:
    token = dev_token(data_dir, who)
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@contextmanager
def serving(
    store: Store, data_dir: Path, prepare: Callable[[FastAPI], None] | None = None
) -> Iterator[str]:
    """The FHIR server (access layer and $export included), on a real socket."""
    app = create_app(store, Settings(data_dir=data_dir))
    if prepare is not None:
        prepare(app)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(POLLS):
            if server.started:
                break
            threading.Event().wait(0.01)
        assert server.started, "the server did not start"
        yield f"http://127.0.0.1:{port}/fhir"
    finally:
        server.should_exit = True
        thread.join()


def load_synthea(store: Store, reference_dir: Path) -> int:
    files = source_files([reference_dir / "synthea-r4"])
    people = [f for f in files if not f.name.startswith(("hospital", "practitioner"))]
    chosen = [f for f in files if f not in people] + people[:SYNTHEA_PEOPLE]
    summary = Loader(store).load(chosen)
    assert not summary.problems
    return summary.resources


@pytest.fixture(scope="module")
def synthea_server(
    reference_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("bulk")
    store = open_store(f"sqlite:///{folder / 'record.db'}")
    load_synthea(store, reference_dir)
    try:
        with serving(store, folder) as url:
            yield Server(url, store, folder)
    finally:
        store.close()


def wait_for_manifest(client: httpx.Client, status_url: str, **headers: str) -> httpx.Response:
    progress_seen = []
    for _ in range(POLLS):
        response = client.get(status_url, headers=headers)
        if response.status_code != 202:
            return response
        progress_seen.append(response.headers["X-Progress"])
        threading.Event().wait(0.02)
    raise AssertionError(f"the export never finished; last progress {progress_seen[-1:]}")


def kick_off(client: httpx.Client, url: str, **headers: str) -> str:
    response = client.get(url, headers={**ASYNC, **headers})
    assert response.status_code == 202, response.text
    return response.headers["Content-Location"]


def download(client: httpx.Client, manifest: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    files = {}
    for output in manifest["output"]:
        response = client.get(output["url"])
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/fhir+ndjson")
        lines = [orjson.loads(line) for line in response.content.splitlines()]
        assert len(lines) == output["count"]
        assert {r["resourceType"] for r in lines} == {output["type"]}
        files[output["type"]] = lines
    return files


def counts_in_store(store: Store, patient_compartment: bool = False) -> dict[str, int]:
    join = "JOIN patient_compartment pc ON pc.resource_pk = r.pk " if patient_compartment else ""
    with store.transaction() as tx:
        rows = tx.execute(
            f"SELECT r.resource_type, COUNT(DISTINCT r.pk) FROM resource r {join}"
            "WHERE r.deleted = 0 GROUP BY r.resource_type"
        )
    return {str(t): int(n) for t, n in rows}


def test_system_export_of_everything_over_http(synthea_server: Server) -> None:
    with synthea_server.client() as client:
        status = kick_off(client, f"{synthea_server.url}/$export")
        assert status.startswith(f"{synthea_server.url}/$export-status/")
        response = wait_for_manifest(client, status)
        assert response.status_code == 200, response.text
        manifest = response.json()
        assert manifest["request"] == f"{synthea_server.url}/$export"
        assert manifest["requiresAccessToken"] is True
        files = download(client, manifest)
    assert {t: len(r) for t, r in files.items()} == counts_in_store(synthea_server.store)
    patients = files["Patient"]
    assert len(patients) == SYNTHEA_PEOPLE


def test_patient_level_export_holds_only_the_patient_compartments(synthea_server: Server) -> None:
    with synthea_server.client() as client:
        status = kick_off(client, f"{synthea_server.url}/Patient/$export")
        files = download(client, wait_for_manifest(client, status).json())
    assert "Organization" not in files and "Practitioner" not in files
    expected = counts_in_store(synthea_server.store, patient_compartment=True)
    assert {t: len(r) for t, r in files.items()} == expected


def test_group_export_holds_only_the_members(synthea_server: Server) -> None:
    store = synthea_server.store
    patient_ids = sorted(s.id for s in store.iter_resources(["Patient"]))[:2]
    group = store.create(
        {
            "resourceType": "Group",
            "type": "person",
            "actual": True,
            "member": [{"entity": {"reference": f"Patient/{p}"}} for p in patient_ids],
        }
    ).stored
    assert group is not None
    with synthea_server.client() as client:
        url = f"{synthea_server.url}/Group/{group.id}/$export?_type=Patient,Encounter"
        files = download(client, wait_for_manifest(client, kick_off(client, url)).json())
        missing = client.get(f"{synthea_server.url}/Group/nope/$export", headers=ASYNC)
    assert sorted(p["id"] for p in files["Patient"]) == patient_ids
    assert {e["subject"]["reference"] for e in files["Encounter"]} == {
        f"Patient/{p}" for p in patient_ids
    }
    assert missing.status_code == 404
    store.delete("Group", group.id)


def test_type_since_and_type_filter_narrow_the_export(synthea_server: Server) -> None:
    store = synthea_server.store
    vital_signs = [
        o
        for o in (s.resource for s in store.iter_resources(["Observation"]))
        if o is not None
        and any(
            c.get("code") == "vital-signs" for cat in o.get("category", []) for c in cat["coding"]
        )
    ]
    with synthea_server.client() as client:
        url = (
            f"{synthea_server.url}/$export?_type=Observation,Condition"
            "&_typeFilter=Observation%3Fcategory%3Dvital-signs"
            "&_outputFormat=application%2Ffhir%2Bndjson"
        )
        files = download(client, wait_for_manifest(client, kick_off(client, url)).json())
        future = kick_off(client, f"{synthea_server.url}/$export?_since=2999-01-01T00:00:00Z")
        empty = wait_for_manifest(client, future).json()
    assert set(files) == {"Observation", "Condition"}
    assert sorted(o["id"] for o in files["Observation"]) == sorted(o["id"] for o in vital_signs)
    assert len(files["Condition"]) == counts_in_store(store)["Condition"]
    assert empty["output"] == []


def test_kick_off_needs_respond_async_and_good_parameters(synthea_server: Server) -> None:
    with synthea_server.client() as client:
        no_async = client.get(f"{synthea_server.url}/$export")
        bad_type = client.get(f"{synthea_server.url}/$export?_type=Wizard", headers=ASYNC)
        bad_format = client.get(f"{synthea_server.url}/$export?_outputFormat=csv", headers=ASYNC)
    for response, words in [
        (no_async, "Prefer: respond-async"),
        (bad_type, "Wizard"),
        (bad_format, "_outputFormat"),
    ]:
        assert response.status_code == 400
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert words in outcome["issue"][0]["diagnostics"]


def test_delete_cancels_and_removes_the_files(synthea_server: Server) -> None:
    with synthea_server.client() as client:
        status = kick_off(client, f"{synthea_server.url}/$export?_type=Patient")
        manifest = wait_for_manifest(client, status).json()
        job_id = status.rsplit("/", 1)[1]
        assert (synthea_server.exports / job_id / "Patient.ndjson").exists()
        assert client.delete(status).status_code == 202
        assert client.get(status).status_code == 404
        assert client.get(manifest["output"][0]["url"]).status_code == 404
        assert client.delete(status).status_code == 404
    assert not (synthea_server.exports / job_id).exists()


def test_only_system_scopes_may_export_and_only_the_requester_may_poll(
    synthea_server: Server,
) -> None:
    clinician = principal("clinician-1", "user/*.rs", Role.CLINICIAN)
    narrow = principal("backend-2", "system/Patient.rs")
    url = synthea_server.url
    with synthea_server.client(clinician) as client:
        denied = client.get(f"{url}/$export", headers=ASYNC)
    with synthea_server.client(narrow) as client:
        too_wide = client.get(f"{url}/$export", headers=ASYNC)
        own_narrow = kick_off(client, f"{url}/$export?_type=Patient")
        narrow_manifest = wait_for_manifest(client, own_narrow)
    with synthea_server.client() as client:
        status = kick_off(client, f"{url}/$export?_type=Patient")
        manifest = wait_for_manifest(client, status)
        file_url = manifest.json()["output"][0]["url"]
        own = client.get(file_url)
    with synthea_server.client(narrow) as client:
        other = client.get(status)
        stolen = client.get(file_url)
    with httpx.Client() as anonymous:
        no_token = anonymous.get(file_url)
    assert denied.status_code == 403
    assert too_wide.status_code == 403 and "system/*.r" in too_wide.text
    assert narrow_manifest.status_code == 200
    assert manifest.json()["requiresAccessToken"] is True
    assert other.status_code == 404 and stolen.status_code == 404
    assert no_token.status_code == 401
    assert own.status_code == 200


def test_jobs_survive_a_restart(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'record.db'}")
    try:
        store.create({"resourceType": "Patient", "gender": "female"})
        jobs = JobTable(store)
        request = parse_kickoff("system", None, [("_type", "Patient")])
        # What a server killed mid-export leaves: jobs in progress and a half-written file.
        running = jobs.create(request, "http://old/fhir/$export", "backend-1", False, None)
        jobs.update(running.id, status="in-progress", progress="Patient: 1 so far")
        (tmp_path / "bulk-export" / running.id).mkdir(parents=True)
        (tmp_path / "bulk-export" / running.id / "Patient.ndjson").write_text("{half")
        restricted = jobs.create(request, "http://old/fhir/$export", "backend-1", True, None)
        with serving(store, tmp_path) as url, client_as(BACKEND, tmp_path) as client:
            resumed = wait_for_manifest(client, f"{url}/$export-status/{running.id}")
            failed = client.get(f"{url}/$export-status/{restricted.id}")
            files = download(client, resumed.json())
    finally:
        store.close()
    assert resumed.status_code == 200
    assert [p["gender"] for p in files["Patient"]] == ["female"]
    assert failed.status_code == 500
    assert "kick the export off again" in failed.json()["issue"][0]["diagnostics"]


def test_status_reports_progress_until_the_job_is_done(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'record.db'}")
    submitted: list[str] = []

    def hold_jobs(app: FastAPI) -> None:
        # Jobs are queued but not run, so the in-progress answers can be seen for certain.
        app.state.bulk_export.runner.submit = lambda job, restriction: submitted.append(job.id)

    try:
        with serving(store, tmp_path, hold_jobs) as url, client_as(BACKEND, tmp_path) as client:
            status = kick_off(client, f"{url}/$export")
            queued = client.get(status)
            JobTable(store).update(submitted[0], status="in-progress", progress="Patient: 5 so far")
            running = client.get(status)
    finally:
        store.close()
    assert queued.status_code == 202 and queued.headers["X-Progress"] == "queued"
    assert queued.headers["Retry-After"].isdigit()
    assert running.status_code == 202 and running.headers["X-Progress"] == "Patient: 5 so far"


def test_synthea_round_trip_export_then_load_into_an_empty_store(
    synthea_server: Server, tmp_path: Path
) -> None:
    with synthea_server.client() as client:
        status = kick_off(client, f"{synthea_server.url}/$export")
        manifest = wait_for_manifest(client, status).json()
        for output in manifest["output"]:
            (tmp_path / f"{output['type']}.ndjson").write_bytes(client.get(output["url"]).content)
    again = open_store(f"sqlite:///{tmp_path / 'again.db'}")
    try:
        summary = Loader(again).load(sorted(tmp_path.glob("*.ndjson")))
        assert not summary.problems
        assert content(again) == content(synthea_server.store)
    finally:
        again.close()


def content(store: Store) -> dict[str, dict[str, Any]]:
    """Every current resource by type/id, without the store's own version metadata."""
    result = {}
    for stored in store.iter_resources():
        assert stored.resource is not None
        resource = dict(stored.resource)
        meta = {
            k: v
            for k, v in resource.pop("meta", {}).items()
            if k not in {"versionId", "lastUpdated"}
        }
        if meta:
            resource["meta"] = meta
        result[f"{stored.resource_type}/{stored.id}"] = resource
    return result
