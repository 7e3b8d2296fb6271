"""Bulk Data $export over real HTTP: kick-off (GET and POST), polling, manifest, download,
cancel, restart, who may export, ``patient`` and ``_elements``, files split by size, the
exported JSON against GET reads, and the Synthea round trip (export, re-load, compare)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
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
V3_OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"


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
    store: Store,
    data_dir: Path,
    prepare: Callable[[FastAPI], None] | None = None,
    **settings: Any,
) -> Iterator[str]:
    """The FHIR server (access layer and $export included), on a real socket."""
    app = create_app(store, Settings(data_dir=data_dir, **settings))
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


def parameters(*pairs: tuple[str, Any]) -> dict[str, Any]:
    """A kick-off Parameters body; a pair's value is a string, or a Patient id for patient."""
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": name, "valueReference": {"reference": f"Patient/{value}"}}
            if name == "patient"
            else {"name": name, "valueString": value}
            for name, value in pairs
        ],
    }


def post_kick_off(client: httpx.Client, url: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(url, json=body, headers={**ASYNC, "Content-Type": "application/fhir+json"})


def download(client: httpx.Client, manifest: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every file of the manifest with the client's token, resources by type (a type's files
    in manifest order)."""
    files: dict[str, list[dict[str, Any]]] = {}
    for output in manifest["output"]:
        response = client.get(output["url"])
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/fhir+ndjson")
        lines = [orjson.loads(line) for line in response.content.splitlines()]
        assert len(lines) == output["count"]
        assert {r["resourceType"] for r in lines} == {output["type"]}
        files.setdefault(output["type"], []).extend(lines)
    return files


def counts_in_store(
    store: Store, patient_compartment: bool = False, patients: Sequence[str] = ()
) -> dict[str, int]:
    """Current resources by type: all, in any Patient compartment, or in these patients'."""
    join = "JOIN patient_compartment pc ON pc.resource_pk = r.pk " if patient_compartment else ""
    where = ""
    if patients:
        join = "JOIN patient_compartment pc ON pc.resource_pk = r.pk "
        where = f"AND pc.patient_id IN ({', '.join('?' for _ in patients)}) "
    with store.transaction() as tx:
        rows = tx.execute(
            f"SELECT r.resource_type, COUNT(DISTINCT r.pk) FROM resource r {join}"
            f"WHERE r.deleted = 0 {where}GROUP BY r.resource_type",
            list(patients),
        )
    return {str(t): int(n) for t, n in rows}


def patient_ids(store: Store) -> list[str]:
    return sorted(s.id for s in store.iter_resources(["Patient"]))


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
    members = patient_ids(store)[:2]
    group = store.create(
        {
            "resourceType": "Group",
            "type": "person",
            "actual": True,
            "member": [{"entity": {"reference": f"Patient/{p}"}} for p in members],
        }
    ).stored
    assert group is not None
    with synthea_server.client() as client:
        url = f"{synthea_server.url}/Group/{group.id}/$export?_type=Patient,Encounter"
        files = download(client, wait_for_manifest(client, kick_off(client, url)).json())
        missing = client.get(f"{synthea_server.url}/Group/nope/$export", headers=ASYNC)
    assert sorted(p["id"] for p in files["Patient"]) == members
    assert {e["subject"]["reference"] for e in files["Encounter"]} == {
        f"Patient/{p}" for p in members
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
        denied_post = post_kick_off(client, f"{url}/Patient/$export", parameters())
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
    assert denied.status_code == 403 and denied_post.status_code == 403
    assert too_wide.status_code == 403 and "system/*.r" in too_wide.text
    assert narrow_manifest.status_code == 200
    assert manifest.json()["requiresAccessToken"] is True
    assert other.status_code == 404 and stolen.status_code == 404
    assert no_token.status_code == 401
    assert own.status_code == 200


def test_post_kick_off_with_patient_exports_only_their_compartments(
    synthea_server: Server,
) -> None:
    chosen = patient_ids(synthea_server.store)[1:3]
    with synthea_server.client() as client:
        response = post_kick_off(
            client,
            f"{synthea_server.url}/Patient/$export",
            parameters(("patient", chosen[0]), ("patient", chosen[1]), ("_outputFormat", "ndjson")),
        )
        assert response.status_code == 202, response.text
        manifest = wait_for_manifest(client, response.headers["Content-Location"]).json()
        files = download(client, manifest)
        assert client.delete(response.headers["Content-Location"]).status_code == 202
    # The IG: for a POST the manifest's request is the URL without the parameters.
    assert manifest["request"] == f"{synthea_server.url}/Patient/$export"
    assert sorted(p["id"] for p in files["Patient"]) == chosen
    expected = counts_in_store(synthea_server.store, patients=chosen)
    assert {t: len(r) for t, r in files.items()} == expected
    assert {e["subject"]["reference"] for e in files["Encounter"]} == {
        f"Patient/{p}" for p in chosen
    }


def test_post_group_export_with_patient_and_the_patients_it_refuses(
    synthea_server: Server,
) -> None:
    store = synthea_server.store
    everyone = patient_ids(store)
    group = store.create(
        {
            "resourceType": "Group",
            "type": "person",
            "actual": True,
            "member": [{"entity": {"reference": f"Patient/{p}"}} for p in everyone[:3]],
        }
    ).stored
    assert group is not None
    url = f"{synthea_server.url}/Group/{group.id}/$export"
    observations_only = principal("backend-3", "system/Group.rs system/Observation.rs")
    with synthea_server.client() as client:
        kicked = post_kick_off(
            client, url, parameters(("_type", "Patient,Condition"), ("patient", everyone[2]))
        )
        files = download(
            client, wait_for_manifest(client, kicked.headers["Content-Location"]).json()
        )
        outsider = post_kick_off(client, url, parameters(("patient", everyone[4])))
        unknown = post_kick_off(
            client,
            f"{synthea_server.url}/Patient/$export",
            parameters(("patient", everyone[0]), ("patient", "no-such-person")),
        )
        on_get = client.get(f"{url}?patient=Patient/{everyone[0]}", headers=ASYNC)
        system = post_kick_off(
            client, f"{synthea_server.url}/$export", parameters(("patient", everyone[0]))
        )
        not_parameters = post_kick_off(client, url, {"resourceType": "Patient"})
    with synthea_server.client(observations_only) as client:
        # It may read the Group but no Patient: a member it may not see is refused exactly
        # like a missing one.
        hidden = post_kick_off(
            client, url, parameters(("_type", "Observation"), ("patient", everyone[0]))
        )
    store.delete("Group", group.id)
    assert kicked.status_code == 202
    assert [p["id"] for p in files["Patient"]] == [everyone[2]]
    assert len(files["Condition"]) == counts_in_store(store, patients=[everyone[2]])["Condition"]
    for response, words in [
        (outsider, f"Patient/{everyone[4]}, not members of Group/{group.id}"),
        (unknown, "Patient/no-such-person, which this server does not hold or you may not"),
        (hidden, f"Patient/{everyone[0]}, which this server does not hold or you may not"),
        (on_get, "only by a POST kick-off"),
        (system, "does not apply to a system-level export"),
        (not_parameters, "takes a FHIR Parameters resource"),
    ]:
        assert response.status_code == 400, response.text
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert words in outcome["issue"][0]["diagnostics"]


def test_elements_trim_each_resource_and_tag_it_subsetted(synthea_server: Server) -> None:
    store = synthea_server.store
    with synthea_server.client() as client:
        response = post_kick_off(
            client,
            f"{synthea_server.url}/$export",
            parameters(
                ("_type", "Patient,Observation,Organization"),
                ("_elements", "Patient.gender,Observation.value[x]"),
            ),
        )
        files = download(
            client, wait_for_manifest(client, response.headers["Content-Location"]).json()
        )
    for patient in files["Patient"]:
        whole = store.read("Patient", patient["id"]).resource or {}
        tag = patient["meta"]["tag"][-1]
        assert (tag["system"], tag["code"]) == (V3_OBSERVATION_VALUE, "SUBSETTED")
        assert patient == {
            "resourceType": "Patient",
            "id": whole["id"],
            "meta": {**whole["meta"], "tag": [*whole["meta"].get("tag", []), tag]},
            **({"gender": whole["gender"]} if "gender" in whole else {}),
        }
    values = 0
    for observation in files["Observation"]:
        # status and code are mandatory in R4, so they stay whatever was asked.
        assert {"status", "code"} <= set(observation)
        assert set(observation) <= {"resourceType", "id", "meta", "status", "code"} | {
            k for k in observation if k.startswith("value")
        }
        assert "subject" not in observation and "effectiveDateTime" not in observation
        values += any(k.startswith("value") for k in observation)
    assert values > 0
    # No entry names Organization, so organisations go out whole and untagged.
    for organization in files["Organization"]:
        assert organization == store.read("Organization", organization["id"]).resource


def test_exported_lines_are_what_get_reads_return(synthea_server: Server) -> None:
    """The fast path writes the stored JSON unparsed: it must be the API's resource."""
    store = synthea_server.store
    with synthea_server.client() as client:
        status = kick_off(client, f"{synthea_server.url}/$export")
        manifest = wait_for_manifest(client, status).json()
        raw = [client.get(o["url"]).content.splitlines() for o in manifest["output"]]
        lines = [line for file in raw for line in file]
        exported = [orjson.loads(line) for line in lines]
        # Every resource against the store's read; a few of each type over HTTP too.
        sampled: dict[str, int] = {}
        for resource in exported:
            key = resource["resourceType"]
            if sampled.get(key, 0) < 3:
                sampled[key] = sampled.get(key, 0) + 1
                response = client.get(f"{synthea_server.url}/{key}/{resource['id']}")
                assert response.status_code == 200
                assert response.json() == resource
    assert len(exported) == sum(counts_in_store(store).values())
    for resource in exported:
        assert resource == store.read(resource["resourceType"], resource["id"]).resource
        assert resource["meta"]["versionId"] and resource["meta"]["lastUpdated"]
    assert all(line.startswith(b"{") for line in lines)


def test_large_types_are_split_over_several_files(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'record.db'}")
    try:
        store.bulk_load(
            [{"resourceType": "Patient", "id": f"p{i:03}", "gender": "other"} for i in range(250)]
            + [{"resourceType": "Organization", "id": "org", "name": "Practice"}]
        )
        with (
            serving(store, tmp_path, export_file_resources=100) as url,
            client_as(BACKEND, tmp_path) as client,
        ):
            response = post_kick_off(client, f"{url}/$export", parameters())
            status = response.headers["Content-Location"]
            manifest = wait_for_manifest(client, status).json()
            files = download(client, manifest)
            assert client.delete(status).status_code == 202
            gone = [client.get(o["url"]).status_code for o in manifest["output"]]
    finally:
        store.close()
    listed = [(o["type"], o["url"].rsplit("/", 1)[1], o["count"]) for o in manifest["output"]]
    assert listed == [
        ("Organization", "Organization.ndjson", 1),
        ("Patient", "Patient.ndjson", 100),
        ("Patient", "Patient.2.ndjson", 100),
        ("Patient", "Patient.3.ndjson", 50),
    ]
    assert sorted(p["id"] for p in files["Patient"]) == [f"p{i:03}" for i in range(250)]
    assert gone == [404] * 4


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
            name = output["url"].rsplit("/", 1)[1]
            (tmp_path / name).write_bytes(client.get(output["url"]).content)
    again = open_store(f"sqlite:///{tmp_path / 'again.db'}")
    try:
        summary = Loader(again).load(sorted(tmp_path.glob("*.ndjson")))
        assert not summary.problems
        loaded, original = content(again), content(synthea_server.store)
        # The load adds its own Provenance per NDJSON batch; all else comes back unchanged.
        added = {key for key in loaded if key not in original}
        assert {key: loaded[key] for key in original} == original
        assert added and all(key.startswith("Provenance/") for key in added)
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
