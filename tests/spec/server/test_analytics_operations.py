"""``ViewDefinition/$run`` and ``Measure/$evaluate-measure`` through the whole server: the
access middleware (who may call them), the audit entry each call leaves, the de-identified
snapshot as the only source, and the published, disclosure-controlled outcomes."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow.parquet as pq
import pytest
from fhir.resources.R4B.measure import Measure
from fhir.resources.R4B.measurereport import MeasureReport
from harness import in_process

from joinedup.access.principal import Principal, Role
from joinedup.access.scopes import ScopeSet
from joinedup.access.tokens import dev_token
from joinedup.config import Settings
from joinedup.export.deidentify import Deidentification
from joinedup.export.pseudonyms import Pseudonymiser
from joinedup.export.snapshot import MANIFEST, write_snapshot
from joinedup.export.sources import FolderSource
from joinedup.measures.compute import compute_measures
from joinedup.measures.definitions import STARTER_LIBRARY, Grain
from joinedup.server.app import create_app
from joinedup.store import Store, open_store
from joinedup.synth.generator import SynthOptions, generate
from joinedup.views.library import VIEW_NAMES, library_view_json
from joinedup.views.sources import Source

PEOPLE = 300
MEASURE = "ae-attendances"
FY2023 = ("2023-04-01", "2024-03-31")

ROLE_SCOPES = {
    Role.ANALYST: "user/*.rs",
    Role.PLACE_LEADER: "user/*.rs",
    Role.CLINICIAN: "user/*.cruds",
    Role.ADMIN: "user/*.cruds",
    Role.CITIZEN: "patient/*.rs",
    Role.SYSTEM: "system/*.rs",
}


def _publish_outcomes(snapshot: Path, out: Path, library: Path) -> None:
    """One measure computed and published as ``joinedup measures run`` does, by financial
    year so the ICS counts are large enough to be shown while some strata are suppressed."""
    library.mkdir()
    shutil.copy(STARTER_LIBRARY / f"{MEASURE}.yaml", library)
    compute_measures(snapshot, out, library=library, grain=Grain.year)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("analytics")
    ics = root / "ics"
    ics.mkdir()
    generate(SynthOptions(people=PEOPLE, seed=5, out=ics, workers=1))
    data = root / "data"
    deidentified = Deidentification(Pseudonymiser(b"analytics-operations-test-key-32b"))
    write_snapshot(
        FolderSource(ics), data / "snapshot", format="ndjson", deidentification=deidentified
    )
    _publish_outcomes(data / "snapshot", data / "outcomes", root / "library")
    return data


@pytest.fixture(scope="module")
def store(data_dir: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{data_dir / 'record.db'}")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def server(store: Store, data_dir: Path) -> Iterator[httpx.Client]:
    with in_process(create_app(store, Settings(data_dir=data_dir))) as http:
        yield http


def token(data_dir: Path, role: Role) -> dict[str, str]:
    principal = Principal(
        subject=f"{role.value}-1",
        role=role,
        scopes=ScopeSet.parse(ROLE_SCOPES[role]),
        org=None if role in (Role.CITIZEN, Role.SYSTEM) else "QWO",
        patient="pat-1" if role is Role.CITIZEN else None,
    )
    return {"Authorization": f"Bearer {dev_token(data_dir, principal)}"}


def last_audit(store: Store) -> dict[str, Any]:
    with store.transaction() as tx:
        rows = tx.execute("SELECT entry FROM access_audit ORDER BY seq DESC LIMIT 1")
    event: dict[str, Any] = orjson.loads(rows[0][0])
    return event


def snapshot_ids(data_dir: Path, resource_type: str) -> set[str]:
    return {str(r["id"]) for r in Source.open(data_dir / "snapshot").read(resource_type)}


def inline(view: dict[str, Any], *more: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": "viewResource", "resource": view}, *more],
    }


PATIENT_IDS = {
    "resourceType": "ViewDefinition",
    "resource": "Patient",
    "select": [{"column": [{"name": "id", "path": "getResourceKey()", "type": "string"}]}],
}

# --- ViewDefinition ------------------------------------------------------------------------


def test_stored_view_runs_on_the_deidentified_snapshot(
    server: httpx.Client, data_dir: Path, store: Store
) -> None:
    analyst = token(data_dir, Role.ANALYST)
    response = server.get("/fhir/ViewDefinition/patients/$run?_format=ndjson", headers=analyst)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in response.text.splitlines()]
    assert {r["person_id"] for r in rows} == snapshot_ids(data_dir, "Patient")
    manifest = json.loads((data_dir / "snapshot" / MANIFEST).read_text())
    assert len(rows) == PEOPLE - manifest["optOut"]["peopleRemoved"] < PEOPLE
    # Pseudonymised ids, not the generator's own.
    assert not any(r["person_id"].startswith("pat-") for r in rows)
    event = last_audit(store)
    assert event["subtype"][0]["code"] == "$run" and event["outcome"] == "0"
    assert {"what": {"reference": "ViewDefinition/patients"}} in event["entity"]
    assert event["agent"][0]["role"] == [{"text": "analyst"}]


def test_formats_limit_and_header(server: httpx.Client, data_dir: Path) -> None:
    analyst = token(data_dir, Role.ANALYST)
    as_json = server.get(
        "/fhir/ViewDefinition/encounters/$run", params={"_format": "json"}, headers=analyst
    )
    assert as_json.status_code == 200
    assert as_json.json() and set(as_json.json()[0]) >= {"encounter_id", "class", "start_date"}
    limited = server.get(
        "/fhir/ViewDefinition/patients/$run",
        params={"_format": "csv", "_limit": "5"},
        headers=analyst,
    )
    table = list(csv.reader(io.StringIO(limited.text)))
    columns = [c["name"] for s in library_view_json("patients")["select"] for c in s["column"]]
    assert limited.headers["content-type"].startswith("text/csv")
    assert table[0] == columns and len(table) == 6
    headless = server.post(
        "/fhir/ViewDefinition/$run",
        json=inline(
            PATIENT_IDS,
            {"name": "_format", "valueCode": "csv"},
            {"name": "header", "valueBoolean": False},
        ),
        headers=analyst,
    )
    assert headless.status_code == 200, headless.text
    assert set(headless.text.split()) == snapshot_ids(data_dir, "Patient")
    parquet = server.get(
        "/fhir/ViewDefinition/patients/$run",
        headers={**analyst, "Accept": "application/vnd.apache.parquet"},
    )
    assert pq.read_table(io.BytesIO(parquet.content)).num_rows == len(
        snapshot_ids(data_dir, "Patient")
    )


def test_view_by_reference_and_the_library_listing(server: httpx.Client, data_dir: Path) -> None:
    analyst = token(data_dir, Role.ANALYST)
    listing = server.get("/fhir/ViewDefinition", headers=analyst).json()
    assert listing["total"] == len(VIEW_NAMES)
    assert {e["resource"]["name"] for e in listing["entry"]} == set(VIEW_NAMES)
    observations = server.get("/fhir/ViewDefinition?resource=Observation", headers=analyst)
    assert {e["resource"]["name"] for e in observations.json()["entry"]} == {
        "blood_pressures",
        "observations",
    }
    stored = server.get("/fhir/ViewDefinition/blood-pressures", headers=analyst).json()
    assert stored["id"] == "blood-pressures" and stored["name"] == "blood_pressures"
    by_reference = server.post(
        "/fhir/ViewDefinition/$run?_format=json",
        json={
            "resourceType": "Parameters",
            "parameter": [
                {"name": "viewReference", "valueReference": {"reference": stored["url"]}}
            ],
        },
        headers=analyst,
    )
    assert by_reference.status_code == 200, by_reference.text
    assert {r["observation_id"] for r in by_reference.json()} <= snapshot_ids(
        data_dir, "Observation"
    )


def test_errors_in_a_view_name_the_path(server: httpx.Client, data_dir: Path) -> None:
    bad = {
        **PATIENT_IDS,
        "select": [{"column": [{"name": "id", "path": "id.bogus()", "type": "string"}]}],
    }
    response = server.post(
        "/fhir/ViewDefinition/$run", json=inline(bad), headers=token(data_dir, Role.ANALYST)
    )
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["ViewDefinition.select[0].column[0].path"]
    assert "bogus" in issue["diagnostics"]


@pytest.mark.parametrize(
    ("params", "status", "where"),
    [
        ({"patient": "Patient/1"}, 400, "patient"),
        ({"_format": "xml"}, 400, "_format"),
        ({"_limit": "-1"}, 400, "_limit"),
        ({"viewReference": "ViewDefinition/patients"}, 400, "viewReference"),
    ],
)
def test_bad_parameters_are_refused(
    server: httpx.Client, data_dir: Path, params: dict[str, str], status: int, where: str
) -> None:
    response = server.get(
        "/fhir/ViewDefinition/patients/$run", params=params, headers=token(data_dir, Role.ANALYST)
    )
    assert response.status_code == status
    assert response.json()["issue"][0]["expression"] == [where]


def test_unknown_stored_view_is_404(server: httpx.Client, data_dir: Path) -> None:
    response = server.get("/fhir/ViewDefinition/nope/$run", headers=token(data_dir, Role.ANALYST))
    assert response.status_code == 404
    assert "GET /fhir/ViewDefinition" in response.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.ANALYST, 200),
        (Role.SYSTEM, 200),
        (Role.PLACE_LEADER, 403),
        (Role.CLINICIAN, 403),
        (Role.ADMIN, 403),
        (Role.CITIZEN, 403),
        (None, 401),
    ],
)
def test_only_analysts_and_system_tokens_run_views(
    server: httpx.Client, data_dir: Path, store: Store, role: Role | None, status: int
) -> None:
    headers = token(data_dir, role) if role is not None else {}
    response = server.get("/fhir/ViewDefinition/patients/$run?_limit=1", headers=headers)
    assert response.status_code == status
    event = last_audit(store)
    assert event["subtype"][0]["code"] == "$run"
    assert event["outcome"] == ("0" if status == 200 else "4")


def test_identifiable_or_missing_snapshot_is_refused(
    store: Store, data_dir: Path, tmp_path: Path
) -> None:
    analyst = token(data_dir, Role.ANALYST)
    keys = tmp_path / "keys"  # the signing key must be the one the tokens were made with
    keys.symlink_to(data_dir / "keys")
    with in_process(create_app(store, Settings(data_dir=tmp_path))) as bare:
        missing = bare.get("/fhir/ViewDefinition/patients/$run", headers=analyst)
        assert missing.status_code == 409
        assert "joinedup snapshot" in missing.json()["issue"][0]["diagnostics"]
        snapshot = tmp_path / "snapshot"
        snapshot.mkdir()
        (snapshot / "Patient.ndjson").write_text('{"resourceType": "Patient", "id": "p1"}\n')
        (snapshot / MANIFEST).write_text(json.dumps({"identifiable": True}))
        identifiable = bare.get("/fhir/ViewDefinition/patients/$run", headers=analyst)
        assert identifiable.status_code == 409
        assert "--identifiable" in identifiable.json()["issue"][0]["diagnostics"]


# --- Measure -------------------------------------------------------------------------------


def test_measures_are_listed_and_read(server: httpx.Client, data_dir: Path) -> None:
    leader = token(data_dir, Role.PLACE_LEADER)
    listing = server.get("/fhir/Measure", headers=leader).json()
    assert [e["resource"]["id"] for e in listing["entry"]] == [MEASURE]
    measure = server.get(f"/fhir/Measure/{MEASURE}", headers=leader).json()
    Measure.model_validate(measure)
    assert server.get("/fhir/Measure/nope", headers=leader).status_code == 404


def published(data_dir: Path, period: tuple[str, str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = pq.read_table(
        data_dir / "outcomes" / "results.parquet"
    ).to_pylist()
    return [r for r in rows if r["period_start"] == period[0] and r["measure_id"] == MEASURE]


def test_evaluate_measure_reports_the_published_period(
    server: httpx.Client, data_dir: Path, store: Store
) -> None:
    response = server.get(
        f"/fhir/Measure/{MEASURE}/$evaluate-measure",
        params={"periodStart": "2023-04", "periodEnd": "2024-03"},
        headers=token(data_dir, Role.PLACE_LEADER),
    )
    assert response.status_code == 200, response.text
    report = response.json()
    MeasureReport.model_validate(report)
    assert report["period"] == {"start": FY2023[0], "end": FY2023[1]}
    rows = published(data_dir, FY2023)
    ics = next(r for r in rows if r["breakdown"] == "ics")
    assert not ics["suppressed"]
    group = report["group"][0]
    assert group["population"][0]["count"] == ics["numerator"]
    assert group["measureScore"]["value"] == round(ics["value"], 6)
    reported = {
        (s["code"][0]["coding"][0]["code"], stratum["value"]["text"]): stratum
        for s in group["stratifier"]
        for stratum in s["stratum"]
    }
    hidden = [r for r in rows if r["suppressed"]]
    assert hidden, "the fixture should publish some suppressed strata"
    for row in hidden:
        stratum = reported[(row["breakdown"], row["group_id"])]
        assert "measureScore" not in stratum
        assert all("count" not in p for p in stratum["population"])
    for row in rows:
        if row["breakdown"] not in ("ics", "core20") and not row["suppressed"]:
            stratum = reported[(row["breakdown"], row["group_id"])]
            assert stratum["population"][0]["count"] == row["numerator"]
    event = last_audit(store)
    assert event["subtype"][0]["code"] == "$evaluate-measure"
    assert {"what": {"reference": f"MeasureReport/{MEASURE}-{FY2023[0]}"}} in event["entity"]


def test_type_level_evaluate_takes_the_measure_parameter(
    server: httpx.Client, data_dir: Path
) -> None:
    response = server.get(
        "/fhir/Measure/$evaluate-measure",
        params={"measure": f"Measure/{MEASURE}", "periodStart": FY2023[0], "periodEnd": FY2023[1]},
        headers=token(data_dir, Role.ANALYST),
    )
    assert response.status_code == 200, response.text
    assert response.json()["period"]["start"] == FY2023[0]


FY = {"periodStart": FY2023[0], "periodEnd": FY2023[1]}


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"periodStart": "2023-04-01"}, "periodEnd"),
        ({"periodStart": "2023-04-01", "periodEnd": "2023-06-30"}, "periodStart"),
        ({"periodStart": "2023-13", "periodEnd": "2024-03"}, "periodStart"),
        ({**FY, "reportType": "subject"}, "reportType"),
        ({**FY, "subject": "Organization/org-place-1"}, "subject"),
        ({**FY, "measure": MEASURE}, "measure"),
    ],
)
def test_evaluate_measure_refuses_what_it_cannot_answer(
    server: httpx.Client, data_dir: Path, params: dict[str, str], where: str
) -> None:
    response = server.get(
        f"/fhir/Measure/{MEASURE}/$evaluate-measure",
        params=params,
        headers=token(data_dir, Role.ANALYST),
    )
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == [where]


def test_a_period_not_published_names_the_ones_that_are(
    server: httpx.Client, data_dir: Path
) -> None:
    response = server.get(
        f"/fhir/Measure/{MEASURE}/$evaluate-measure",
        params={"periodStart": "2023-04-01", "periodEnd": "2023-06-30"},
        headers=token(data_dir, Role.ANALYST),
    )
    message = response.json()["issue"][0]["diagnostics"]
    assert "per financial year (April to March) from 2021-04-01 to 2025-03-31" in message
    assert "periodStart=2024-04-01&periodEnd=2025-03-31" in message


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.PLACE_LEADER, 200),
        (Role.ANALYST, 200),
        (Role.SYSTEM, 200),
        (Role.CLINICIAN, 403),
        (Role.ADMIN, 403),
        (Role.CITIZEN, 403),
        (None, 401),
    ],
)
def test_who_may_evaluate_measures(
    server: httpx.Client, data_dir: Path, role: Role | None, status: int
) -> None:
    headers = token(data_dir, role) if role is not None else {}
    response = server.get(
        f"/fhir/Measure/{MEASURE}/$evaluate-measure",
        params=FY,
        headers=headers,
    )
    assert response.status_code == status


def test_capability_statement_advertises_both_operations(server: httpx.Client) -> None:
    rest = server.get("/fhir/metadata").json()["rest"][0]
    assert "http://sql-on-fhir.org/OperationDefinition/$run" in {
        o["definition"] for o in rest["operation"]
    }
    measure = next(r for r in rest["resource"] if r["type"] == "Measure")
    assert measure["operation"][0]["name"] == "evaluate-measure"
    assert {i["code"] for i in measure["interaction"]} == {"read", "search-type"}
