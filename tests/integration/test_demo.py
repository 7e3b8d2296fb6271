"""`joinedup demo --no-serve` walks the whole data flow: synthetic ICS → record → de-identified
snapshot → outcomes. Each stage reads what the one before wrote, so this is where a change in
one capability that breaks the next one shows up."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from joinedup.cli import app
from joinedup.config import Settings
from joinedup.server.app import create_app
from joinedup.store import open_store
from joinedup.views.library.tables import register_standard_tables
from joinedup.views.sources import Source


def test_demo_builds_record_snapshot_and_outcomes(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["demo", "--people", "1200", "--data-dir", str(tmp_path), "--no-serve"]
    )
    assert result.exit_code == 0, result.output

    manifest = json.loads((tmp_path / "snapshot" / "manifest.json").read_text())
    assert not manifest["identifiable"]
    assert manifest["optOut"]["peopleRemoved"] > 0

    # The de-identified snapshot still carries what analytics need: age from the generalised
    # birth month, and the LSOA / IMD of the home address.
    connection = duckdb.connect()
    register_standard_tables(connection, Source.open(tmp_path / "snapshot"))
    people, aged, located = connection.execute(
        "SELECT count(*), count(age_band), count(imd_quintile) FROM person"
    ).fetchall()[0]
    snapshot_patients = manifest["counts"]["Patient"]
    assert people == aged == located == snapshot_patients

    results = pq.read_table(tmp_path / "outcomes" / "results.parquet").to_pylist()
    published = {row["measure_id"] for row in results if row["value"] is not None}
    measures = json.loads((tmp_path / "outcomes" / "measures.json").read_text())["measures"]
    # Small populations suppress some cells, but most measures publish an ICS value.
    assert len(published) >= len(measures) * 2 // 3, sorted(published)


def test_serve_mounts_the_dashboard_once_outcomes_exist(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["demo", "--people", "600", "--data-dir", str(tmp_path), "--no-serve"]
    )
    assert result.exit_code == 0, result.output
    store = open_store(f"sqlite:///{tmp_path / 'record.db'}")
    try:
        client = TestClient(create_app(store, Settings(data_dir=tmp_path)))
        # The dashboard holds only disclosure-controlled aggregates, as a Place board
        # publishes them, so it needs no sign-in; the record's pages and API do.
        overview = client.get("/dashboard/")
        assert overview.status_code == 200
        assert "ICS overview" in overview.text
        assert client.get("/fhir/Patient", follow_redirects=False).status_code == 401
    finally:
        store.close()
