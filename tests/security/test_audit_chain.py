"""The audit chain: intact logs verify; altered, removed and reordered entries are named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from access_world import postgres_schema
from typer.testing import CliRunner

from joinedup.access import audit
from joinedup.cli import app
from joinedup.store import open_store
from joinedup.store.base import Store

ENTRIES = 8


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'record.db'}"
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url, extensions=[audit.EXTENSION])
    for n in range(1, ENTRIES + 1):
        event = audit.audit_event(
            recorded=f"2026-01-01T00:00:0{n}.000000+00:00",
            who=audit.Who(subject=f"user-{n}", role="clinician", org="A81001"),
            interaction="read",
            action="R",
            method="GET",
            path=f"/fhir/Patient/p{n}",
            status=200,
            entities=[f"Patient/p{n}"],
        )
        audit.append(opened, event, patients=[f"p{n}"])
    try:
        yield opened
    finally:
        opened.close()


def tamper(store: Store, *statements: str) -> None:
    """What an attacker with write access to the database does: lift the guard, then edit."""
    with store.transaction() as tx:
        if tx.dialect == "sqlite":
            tx.execute("DROP TRIGGER access_audit_no_update")
            tx.execute("DROP TRIGGER access_audit_no_delete")
        else:
            tx.execute("ALTER TABLE access_audit DISABLE TRIGGER access_audit_no_change")
        for statement in statements:
            tx.execute(statement)


def test_an_untouched_chain_verifies(store: Store) -> None:
    result = audit.verify(store)
    assert result.intact and result.entries == ENTRIES
    assert audit.verify(store, batch=3) == result  # paging through the log changes nothing


def test_the_log_refuses_update_and_delete(store: Store) -> None:
    for statement in (
        "UPDATE access_audit SET entry = '{}' WHERE seq = 2",
        "DELETE FROM access_audit WHERE seq = 2",
    ):
        with pytest.raises(Exception, match="append-only"), store.transaction() as tx:
            tx.execute(statement)
    assert audit.verify(store).intact


def test_an_altered_entry_is_named(store: Store) -> None:
    tamper(
        store, "UPDATE access_audit SET entry = replace(entry, 'user-5', 'user-9') WHERE seq = 5"
    )
    result = audit.verify(store)
    assert not result.intact
    assert result.first_bad == 5 and result.problem == "entry 5 was altered"
    assert result.entries == 4


def test_an_altered_hash_is_named_at_the_next_entry(store: Store) -> None:
    tamper(store, "UPDATE access_audit SET hash = prev_hash WHERE seq = 3")
    result = audit.verify(store)
    assert result.first_bad == 3 and "altered" in (result.problem or "")


def test_a_removed_entry_is_named(store: Store) -> None:
    tamper(store, "DELETE FROM access_audit WHERE seq = 4")
    result = audit.verify(store)
    assert result.first_bad == 4 and result.problem is not None
    assert result.problem.startswith("entry 4 removed")


def test_the_first_entry_removed_is_named(store: Store) -> None:
    tamper(store, "DELETE FROM access_audit WHERE seq = 1")
    assert audit.verify(store).first_bad == 1


def test_a_removal_hidden_by_renumbering_is_named(store: Store) -> None:
    tamper(
        store,
        "DELETE FROM access_audit WHERE seq = 6",
        "UPDATE access_audit SET seq = seq - 1 WHERE seq = 7",
        "UPDATE access_audit SET seq = seq - 1 WHERE seq = 8",
    )
    result = audit.verify(store)
    assert result.first_bad == 6 and "does not follow entry 5" in (result.problem or "")


def test_reordered_entries_are_named(store: Store) -> None:
    # Swap entries 2 and 3 (content, chain fields and all), keeping the sequence numbers.
    tamper(
        store,
        "UPDATE access_audit SET seq = 100 WHERE seq = 2",
        "UPDATE access_audit SET seq = 2 WHERE seq = 3",
        "UPDATE access_audit SET seq = 3 WHERE seq = 100",
    )
    result = audit.verify(store)
    assert result.first_bad == 2 and result.entries == 1


def test_entries_about_a_person(store: Store) -> None:
    found = audit.entries_about(store, "p3")
    assert [e.seq for e in found] == [3]
    assert found[0].event["entity"][0]["what"]["reference"] == "Patient/p3"


def test_an_entry_about_many_people_is_found_from_each(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "PATIENT_ROWS_PER_INSERT", 2)
    event = audit.audit_event(
        recorded="2026-01-01T00:00:09.000000+00:00",
        who=audit.Who(subject="user-9", role="clinician", org="A81001"),
        interaction="search-type",
        action="E",
        method="GET",
        path="/fhir/Patient",
        status=200,
    )
    entry = audit.append(store, event, patients=["m1", "m2", "m3", "m2", "m4", "m5"])
    for person in ("m1", "m2", "m3", "m4", "m5"):
        assert [e.seq for e in audit.entries_about(store, person)] == [entry.seq], person


def test_audit_verify_command(store: Store, store_url: str) -> None:
    runner = CliRunner()
    intact = runner.invoke(app, ["audit", "verify", "--db", store_url])
    assert intact.exit_code == 0, intact.output
    assert f"intact: {ENTRIES} entries" in intact.output
    tamper(store, "DELETE FROM access_audit WHERE seq = 7")
    broken = runner.invoke(app, ["audit", "verify", "--db", store_url])
    assert broken.exit_code == 1
    assert "entry 7 removed" in broken.output


def test_an_entry_built_in_the_appending_transaction_reads_its_probe(store_url: str) -> None:
    opened = open_store(store_url, extensions=[audit.EXTENSION])
    seen: list[int] = []

    def build(tx: object, value: int) -> dict[str, object]:
        seen.append(int(value))
        return audit.audit_event(
            recorded=f"2026-01-02T00:00:0{len(seen)}.000000+00:00",
            who=audit.Who(subject="user-1", role="clinician"),
            interaction="search-type",
            action="E",
            method="GET",
            path="/fhir/Observation",
            status=200,
        )

    # The chain's length so far: read with the head, or alone for the very first entry.
    probe = ("SELECT COUNT(*) FROM access_audit WHERE recorded < ?", ["2027"])
    try:
        audit.append(opened, build, ["p1"], probe)
        audit.append(opened, build, ["p1"], probe)
        assert seen == [0, 1]
        assert audit.verify(opened).entries == 2
    finally:
        opened.close()
