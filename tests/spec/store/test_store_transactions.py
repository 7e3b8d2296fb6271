"""One FHIR transaction = one database transaction; extension tables and write hooks."""

from __future__ import annotations

from typing import Any

import pytest

from joinedup.store import (
    NotFound,
    Store,
    StoredResource,
    StoreExtension,
    Transaction,
    parse_search,
)


class Boom(Exception):
    pass


def test_transaction_is_all_or_nothing(store: Store) -> None:
    with pytest.raises(Boom), store.transaction() as tx:
        tx.create({"resourceType": "Patient"}, id="t-1")
        tx.create({"resourceType": "Observation", "status": "final", "code": {"text": "x"}})
        assert tx.read("Patient", "t-1").id == "t-1"
        raise Boom
    with pytest.raises(NotFound):
        store.read("Patient", "t-1")
    assert store.search(parse_search("Observation", [])).total == 0
    assert store.history().total == 0


def test_transaction_commits_everything_together(store: Store) -> None:
    with store.transaction() as tx:
        tx.create({"resourceType": "Patient"}, id="t-2")
        tx.create(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "x"},
                "subject": {"reference": "Patient/t-2"},
            },
            id="t-3",
        )
        found = tx.search(parse_search("Observation", [("subject", "Patient/t-2")]))
        assert [m.id for m in found.matches] == ["t-3"]
    assert store.read("Observation", "t-3").version_id == 1


def test_conditional_update_and_delete(store: Store) -> None:
    nhs = "https://fhir.nhs.uk/Id/nhs-number|9990000018"
    body = {
        "resourceType": "Patient",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000018"}],
    }
    created = store.conditional_update(body, [("identifier", nhs)])
    assert created.outcome == "created"
    updated = store.conditional_update({**body, "gender": "male"}, [("identifier", nhs)])
    assert updated.outcome == "updated"
    assert created.stored is not None and updated.stored is not None
    assert updated.stored.id == created.stored.id
    deleted = store.conditional_delete("Patient", [("identifier", nhs)])
    assert [d.outcome for d in deleted] == ["deleted"]


def test_extension_tables_and_hooks_share_the_write_transaction(store: Store) -> None:
    calls: list[tuple[str, str, int]] = []

    def audit(tx: Transaction, version: StoredResource, operation: Any) -> None:
        calls.append((operation, version.id, version.version_id))
        tx.execute(
            "INSERT INTO test_audit (resource_id, operation) VALUES (?, ?)", [version.id, operation]
        )
        if version.id == "refused":
            raise Boom

    ddl = ["CREATE TABLE IF NOT EXISTS test_audit (resource_id TEXT, operation TEXT)"]
    store.register_extension(
        StoreExtension("test-audit", {"sqlite": ddl, "postgresql": ddl}, on_write=audit)
    )
    store.create({"resourceType": "Patient"}, id="a-1")
    store.delete("Patient", "a-1")
    with pytest.raises(Boom):
        store.create({"resourceType": "Patient"}, id="refused")
    with pytest.raises(NotFound):
        store.read("Patient", "refused")
    with store.transaction() as tx:
        rows = tx.execute("SELECT resource_id, operation FROM test_audit ORDER BY operation")
    assert [tuple(r) for r in rows] == [("a-1", "create"), ("a-1", "delete")]
    assert calls[:2] == [("create", "a-1", 1), ("delete", "a-1", 2)]


def test_write_hooks_may_read_through_the_store(store: Store) -> None:
    store.create({"resourceType": "Organization", "name": "Leeds GP"}, id="org")
    names: list[str] = []

    def remember(tx: Transaction, version: StoredResource, operation: Any) -> None:
        organisation = store.read("Organization", "org").resource or {}
        names.append(organisation["name"])

    store.register_extension(StoreExtension("reader", on_write=remember))
    store.create({"resourceType": "Patient"}, id="reads")
    assert names == ["Leeds GP"]


def test_conditional_create_after_the_match_was_deleted_creates_again(store: Store) -> None:
    condition = [("identifier", "urn:test|42")]
    body = {"resourceType": "Patient", "identifier": [{"system": "urn:test", "value": "42"}]}
    first = store.create(body, if_none_exist=condition)
    assert first.outcome == "created" and first.stored is not None
    assert store.create(body, if_none_exist=condition).outcome == "existing"
    store.delete("Patient", first.stored.id)
    again = store.create(body, if_none_exist=condition)
    assert again.outcome == "created" and again.stored is not None
    assert again.stored.id != first.stored.id
    assert store.create(body, if_none_exist=condition).outcome == "existing"
