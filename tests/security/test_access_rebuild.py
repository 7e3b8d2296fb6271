"""``joinedup access rebuild``: a record loaded without the access extensions denies a GP;
rebuilt, it answers exactly as one loaded with them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from access_world import postgres_schema
from typer.testing import CliRunner

from joinedup.access import rebuild
from joinedup.access.install import EXTENSIONS
from joinedup.access.policy import OrgDirectory, restriction_for
from joinedup.access.principal import Principal, Role
from joinedup.access.scopes import ScopeSet
from joinedup.access.settings import AccessSettings
from joinedup.cli import app
from joinedup.record.load import Loader, source_files
from joinedup.store import NotFound, open_store, parse_search
from joinedup.store.base import Restriction, Store
from joinedup.synth.generator import SynthOptions, generate

TABLES = {
    "access_relationship": "source_type, source_id, patient_id, kind, org, practitioner, ended",
    "access_org": "org_id, ods, parent_id",
    "access_consent": "source_id, patient_id, kind, value",
}
#: A finished referral without a period ends when it was written: the same row in two records
#: loaded at different times, once this is spelled as "at its last update".
LOAD_TIME_NEUTRAL = (
    "SELECT a.source_type, a.source_id, a.patient_id, a.kind, a.org, a.practitioner,"
    " CASE WHEN a.ended = r.last_updated THEN 'at last update' ELSE a.ended END"
    " FROM access_relationship a JOIN resource r"
    " ON r.resource_type = a.source_type AND r.id = a.source_id"
)
#: The synthetic ICS's first practice and one of its registered patients.
PRACTICE_ODS, PATIENT = "Z10001", "pat-1"


@pytest.fixture(scope="module")
def ics(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("rebuild") / "ics"
    generate(SynthOptions(people=300, seed=7, out=out, workers=1))
    return source_files([out])


@pytest.fixture(params=["sqlite", "postgresql"])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty records on the same database kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'with.db'}", f"sqlite:///{tmp_path / 'without.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    with ExitStack() as stack:
        yield stack.enter_context(postgres_schema(base)), stack.enter_context(postgres_schema(base))


def tables(store: Store, *, load_time_neutral: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    queries = {table: f"SELECT {columns} FROM {table}" for table, columns in TABLES.items()}
    if load_time_neutral:
        queries["access_relationship"] = LOAD_TIME_NEUTRAL
    with store.transaction() as tx:
        return {
            table: sorted(
                tx.execute(sql), key=lambda row: tuple("" if v is None else str(v) for v in row)
            )
            for table, sql in queries.items()
        }


def gp_restriction(store: Store) -> Restriction:
    from datetime import UTC, datetime

    gp = Principal(
        "gp-1", Role.CLINICIAN, ScopeSet.parse("user/*.rs"), org=PRACTICE_ODS, practitioner="gp-1"
    )
    keys = OrgDirectory(store).keys(gp.org)
    restriction = restriction_for(gp, keys, AccessSettings(), datetime.now(UTC))
    assert restriction is not None
    return restriction


def visible(store: Store) -> dict[str, Any]:
    """What the GP sees: whole-table totals and the ids on one person's record."""
    restriction = gp_restriction(store)
    seen: dict[str, Any] = {}
    for resource_type in ("Patient", "Encounter", "Observation", "Consent", "Condition"):
        query = parse_search(resource_type, [("_total", "accurate"), ("_count", "1000")])
        page = store.search(query, restriction=restriction)
        seen[resource_type] = (page.total, sorted(r.id for r in page.matches))
    try:
        everything = store.everything(PATIENT, count=1000, restriction=restriction)
    except NotFound:
        seen["$everything"] = None
    else:
        seen["$everything"] = sorted(f"{r.resource_type}/{r.id}" for r in everything.matches)
    return seen


def test_rebuild_gives_what_loading_with_the_extensions_gives(
    ics: list[Path], urls: tuple[str, str]
) -> None:
    with_url, without_url = urls
    loaded_with = open_store(with_url, extensions=EXTENSIONS)
    Loader(loaded_with).load(ics)
    plain = open_store(without_url)  # no access extensions: no hooks ran while loading
    Loader(plain).load(ics)
    plain.close()
    loaded_without = open_store(without_url, extensions=EXTENSIONS)  # empty access tables
    try:
        denied = visible(loaded_without)
        assert denied["$everything"] is None and denied["Patient"][0] == 0

        result = rebuild.rebuild(loaded_without, batch=97)

        expected = tables(loaded_with, load_time_neutral=True)
        assert tables(loaded_without, load_time_neutral=True) == expected
        assert result.rows == {table: len(rows) for table, rows in expected.items()}
        assert all(expected.values())  # every table has rows: the comparison means something
        assert loaded_without.read("Patient", PATIENT, restriction=gp_restriction(loaded_without))
        seen = visible(loaded_without)
        assert seen == visible(loaded_with)
        assert 0 < seen["Patient"][0] < 300  # the GP's own patients, not everyone
    finally:
        loaded_with.close()
        loaded_without.close()


def test_rebuild_is_idempotent_and_drops_what_no_resource_backs(
    ics: list[Path], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'record.db'}"
    store = open_store(url, extensions=EXTENSIONS)
    try:
        Loader(store).load(ics)
        store.delete("Consent", _first_id(store, "Consent"))  # the hook drops its choices
        expected = tables(store)
        with store.transaction() as tx:
            tx.execute(
                "INSERT INTO access_relationship (source_type, source_id, patient_id, kind, org)"
                " VALUES ('Encounter', 'gone', 'pat-2', 'encounter', 'org-practice-1')"
            )
            tx.execute("DELETE FROM access_consent")
        rebuild.rebuild(store, batch=50)
        assert tables(store) == expected
        rebuild.rebuild(store)
        assert tables(store) == expected
    finally:
        store.close()


def _first_id(store: Store, resource_type: str) -> str:
    page = store.search(parse_search(resource_type, [("_count", "1")]))
    return page.matches[0].id


def test_access_rebuild_command(ics: list[Path], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'record.db'}"
    plain = open_store(url)
    Loader(plain).load(ics)
    plain.close()
    runner = CliRunner()
    assert (
        "joinedup access rebuild --db" in runner.invoke(app, ["access", "rebuild", "--help"]).output
    )
    result = runner.invoke(app, ["access", "rebuild", "--db", url])
    assert result.exit_code == 0, result.output
    assert "resources read; rows now: access_relationship " in result.output
