"""`joinedup snapshot` from a folder: options, key handling and the identifiable guard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import orjson
import pytest
from typer.testing import CliRunner

from joinedup.cli import app
from joinedup.config import get_settings
from joinedup.store import open_store

runner = CliRunner()


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("JOINEDUP_PSEUDONYM_KEY", "JOINEDUP_ALLOW_IDENTIFIABLE", "JOINEDUP_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_writes_a_parquet_snapshot_from_a_folder(
    ics_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crafted: ModuleType
) -> None:
    monkeypatch.setenv("JOINEDUP_PSEUDONYM_KEY", crafted.KEY)
    result = runner.invoke(
        app, ["snapshot", "--folder", str(ics_folder), "--out", str(tmp_path / "s")]
    )
    assert result.exit_code == 0, result.output
    assert "de-identified snapshot of" in result.output
    assert "2 people" in result.output
    manifest = orjson.loads((tmp_path / "s" / "manifest.json").read_bytes())
    assert manifest["format"] == "parquet" and manifest["counts"]["Patient"] == 4


def test_birth_year_option_reaches_the_manifest(
    ics_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crafted: ModuleType
) -> None:
    monkeypatch.setenv("JOINEDUP_PSEUDONYM_KEY", crafted.KEY)
    args = [
        "snapshot",
        "--folder",
        str(ics_folder),
        "--out",
        str(tmp_path / "s"),
        "--format",
        "ndjson",
        "--birth-date",
        "year",
    ]
    assert runner.invoke(app, args).exit_code == 0
    patients = [
        orjson.loads(line) for line in (tmp_path / "s" / "Patient.ndjson").read_bytes().splitlines()
    ]
    assert all(len(p["birthDate"]) == 4 for p in patients)


def test_refuses_without_a_pseudonym_key(ics_folder: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["snapshot", "--folder", str(ics_folder), "--out", str(tmp_path / "s")]
    )
    assert result.exit_code == 2
    assert "JOINEDUP_PSEUDONYM_KEY" in result.output
    assert not (tmp_path / "s").exists()


def test_identifiable_needs_the_setting(ics_folder: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["snapshot", "--db", "sqlite:///x.db", "--out", str(tmp_path / "s"), "--identifiable"]
    )
    assert result.exit_code == 2
    assert "JOINEDUP_ALLOW_IDENTIFIABLE" in result.output


def test_identifiable_from_a_folder_is_refused_as_it_cannot_be_audited(
    ics_folder: Path, tmp_path: Path
) -> None:
    result = runner.invoke(
        app,
        ["snapshot", "--folder", str(ics_folder), "--out", str(tmp_path / "s"), "--identifiable"],
    )
    assert result.exit_code == 2
    assert "audited" in result.output


def test_a_missing_folder_says_what_to_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crafted: ModuleType
) -> None:
    monkeypatch.setenv("JOINEDUP_PSEUDONYM_KEY", crafted.KEY)
    result = runner.invoke(
        app, ["snapshot", "--folder", str(tmp_path / "nope"), "--out", str(tmp_path / "s")]
    )
    assert result.exit_code == 2
    assert "is not a folder" in result.output


def loaded_sqlite(tmp_path: Path, crafted: ModuleType) -> str:
    url = f"sqlite:///{tmp_path / 'record.db'}"
    store = open_store(url)
    try:
        store.bulk_load([r for resources in crafted.record().values() for r in resources])
    finally:
        store.close()
    return url


def test_writes_a_snapshot_from_a_store_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crafted: ModuleType
) -> None:
    monkeypatch.setenv("JOINEDUP_PSEUDONYM_KEY", crafted.KEY)
    url = loaded_sqlite(tmp_path, crafted)
    result = runner.invoke(app, ["snapshot", "--db", url, "--out", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    manifest = orjson.loads((tmp_path / "s" / "manifest.json").read_bytes())
    assert manifest["source"] == "record store (sqlite)"
    assert manifest["counts"]["Patient"] == 4 and manifest["optOut"]["peopleRemoved"] == 2


def test_an_identifiable_snapshot_is_audited_in_the_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crafted: ModuleType
) -> None:
    monkeypatch.setenv("JOINEDUP_ALLOW_IDENTIFIABLE", "true")
    url = loaded_sqlite(tmp_path, crafted)
    out = tmp_path / "cohort"
    result = runner.invoke(app, ["snapshot", "--db", url, "--out", str(out), "--identifiable"])
    assert result.exit_code == 0, result.output
    assert "identifiable snapshot" in result.output
    store = open_store(url)
    try:
        events = [s.resource for s in store.iter_resources(["AuditEvent"])]
    finally:
        store.close()
    assert len(events) == 1 and events[0] is not None
    assert events[0]["type"]["code"] == "110106"
    assert events[0]["entity"][0]["what"]["display"] == str(out.resolve())
    assert orjson.loads((out / "manifest.json").read_bytes())["identifiable"] is True


def test_a_mistyped_record_path_is_refused_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crafted: ModuleType
) -> None:
    monkeypatch.setenv("JOINEDUP_PSEUDONYM_KEY", crafted.KEY)
    missing = tmp_path / "no" / "record.db"
    result = runner.invoke(
        app, ["snapshot", "--db", f"sqlite:///{missing}", "--out", str(tmp_path / "s")]
    )
    assert result.exit_code == 2
    assert "there is no record at" in result.output
    assert not missing.exists()
