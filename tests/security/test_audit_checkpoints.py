"""Checkpoints kept outside the database: the newest entries cut off, a chain recomputed after
an edit, and an edited checkpoint file are all reported; an untouched log passes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from access_world import postgres_schema
from test_audit_chain import tamper
from typer.testing import CliRunner

from joinedup.access import audit, checkpoints
from joinedup.cli import app
from joinedup.config import get_settings
from joinedup.store import open_store
from joinedup.store.base import Store

KEY = b"test-checkpoint-key-not-a-secret"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'record.db'}"
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture
def anchors(tmp_path: Path) -> list[Path]:
    """The data directory's checkpoint file and a witness copy."""
    return [tmp_path / "data" / checkpoints.CHECKPOINT_FILE, tmp_path / "witness.jsonl"]


def append(store: Store, n: int) -> audit.AuditEntry:
    event = audit.audit_event(
        recorded=f"2026-01-01T00:00:{n:02d}.000000+00:00",
        who=audit.Who(subject=f"user-{n}", role="clinician", org="A81001"),
        interaction="read",
        action="R",
        method="GET",
        path=f"/fhir/Patient/p{n}",
        status=200,
        entities=[f"Patient/p{n}"],
    )
    return audit.append(store, event, patients=[f"p{n}"])


@pytest.fixture
def store(store_url: str, anchors: list[Path]) -> Iterator[Store]:
    """Ten entries, checkpointed every fourth entry (after 4 and 8) and at the end (10)."""
    opened = open_store(store_url, extensions=[audit.EXTENSION])
    checkpointer = checkpoints.Checkpointer(anchors, KEY, every=4, seconds=1e9)
    checkpointer._last = 0.0  # as if this process had just written one: only the count rule
    for n in range(1, 11):
        checkpointer.after_append(append(opened, n), NOW)
    last = audit.verify(opened)
    checkpoints.write(anchors, KEY, last.entries, last.head, NOW)
    try:
        yield opened
    finally:
        opened.close()


def test_an_untouched_log_agrees_with_its_checkpoints(store: Store, anchors: list[Path]) -> None:
    report = checkpoints.check(store, anchors, KEY)
    assert report.intact, report.problems
    assert report.checkpoints == 3  # 4, 8 and 10; the witness repeats them
    assert report.latest is not None and report.latest.entries == 10
    assert [len(p.read_bytes().splitlines()) for p in anchors] == [3, 3]


def test_cutting_off_the_newest_entries_is_named(store: Store, anchors: list[Path]) -> None:
    assert audit.verify(store).intact  # the chain alone cannot see it…
    tamper(store, "DELETE FROM access_audit WHERE seq > 7")
    assert audit.verify(store).intact
    report = checkpoints.check(store, anchors, KEY)  # …the checkpoints can
    assert not report.intact
    [problem] = report.problems
    assert problem.startswith("the log ends at entry 7 but checkpoint ")
    assert "recorded 10 entries / head " in problem
    assert problem.endswith("entries 8–10 removed")


def test_the_witness_alone_still_names_the_cut(store: Store, anchors: list[Path]) -> None:
    anchors[0].unlink()  # someone with the data directory removed the local file too
    tamper(store, "DELETE FROM access_audit WHERE seq = 10")
    [problem] = checkpoints.check(store, anchors, KEY).problems
    assert "witness.jsonl" in problem and problem.endswith("entry 10 removed")


def test_a_chain_recomputed_after_an_edit_is_named(store: Store, anchors: list[Path]) -> None:
    # The attacker edits entry 3 and recomputes every later hash: a valid chain again.
    with store.transaction() as tx:
        rows = tx.execute("SELECT seq, entry FROM access_audit ORDER BY seq")
    statements = ["UPDATE access_audit SET prev_hash = 'moving-' || seq"]  # prev_hash is UNIQUE
    prev = audit.GENESIS
    for seq, entry in rows:
        text = entry.replace("user-3", "user-9") if seq == 3 else entry
        digest = audit.entry_hash(seq, prev, text)
        quoted = text.replace("'", "''")
        statements.append(
            f"UPDATE access_audit SET entry = '{quoted}', prev_hash = '{prev}', "
            f"hash = '{digest}' WHERE seq = {seq}"
        )
        prev = digest
    tamper(store, *statements)
    assert audit.verify(store).intact
    report = checkpoints.check(store, anchors, KEY)
    assert report.problems[0].startswith("entry 4 does not match checkpoint ")
    assert "rewritten at or before entry 4" in report.problems[0]


def test_an_edited_checkpoint_is_reported(store: Store, anchors: list[Path]) -> None:
    lines = anchors[0].read_bytes().splitlines()
    forged = orjson.loads(lines[-1])
    forged["entries"] = 12  # claim more entries than there were
    anchors[0].write_bytes(b"\n".join([*lines[:-1], orjson.dumps(forged), b"not json"]) + b"\n")
    report = checkpoints.check(store, anchors[:1], KEY)
    assert not report.intact
    assert any(
        p.startswith(f"checkpoint {anchors[0]}:3 ") and "bad signature" in p
        for p in report.problems
    )
    assert any(f"{anchors[0]}:4 is not a checkpoint" in p for p in report.problems)
    # A checkpoint signed with another key is no anchor either.
    other_key = checkpoints.check(store, anchors[1:], b"other").problems
    assert len(other_key) == 3 and all("bad signature" in p for p in other_key)


def test_checkpoints_every_n_entries_and_after_a_quiet_spell(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}", extensions=[audit.EXTENSION])
    path = tmp_path / "c.jsonl"
    try:
        checkpointer = checkpoints.Checkpointer([path], KEY, every=3, seconds=1e9)
        for n in range(1, 8):
            checkpointer.after_append(append(store, n), NOW)
        # The first entry this process writes (nothing anchored yet), then every third.
        entries = [c.entries for c in checkpoints.read([path], KEY).checkpoints]
        assert entries == [1, 3, 6]
        checkpointer.seconds = 0  # a quiet spell has passed: the next entry is anchored
        checkpointer.after_append(append(store, 8), NOW)
        assert checkpoints.read([path], KEY).checkpoints[-1].entries == 8
    finally:
        store.close()


def test_audit_verify_and_checkpoint_commands(
    store: Store, store_url: str, anchors: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOINEDUP_DATA_DIR", str(anchors[0].parent))
    monkeypatch.setenv("JOINEDUP_ACCESS_AUDIT_KEY", KEY.decode())
    monkeypatch.setenv("JOINEDUP_ACCESS_AUDIT_WITNESS", str(anchors[1]))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        intact = runner.invoke(app, ["audit", "verify", "--db", store_url])
        assert intact.exit_code == 0, intact.output
        assert "intact: 10 entries" in intact.output and "recorded 10 entries" in intact.output
        append(store, 11)
        anchored = runner.invoke(app, ["audit", "checkpoint", "--db", store_url])
        assert anchored.exit_code == 0, anchored.output
        assert "checkpoint written: 11 entries" in anchored.output
        tamper(store, "DELETE FROM access_audit WHERE seq = 11")
        broken = runner.invoke(app, ["audit", "verify", "--db", store_url])
        assert broken.exit_code == 1
        assert "the log ends at entry 10 but checkpoint" in broken.output
        assert "entry 11 removed" in broken.output
        refused = runner.invoke(app, ["audit", "checkpoint", "--db", store_url])
        assert refused.exit_code == 1 and "not anchoring" in refused.output
    finally:
        get_settings.cache_clear()
