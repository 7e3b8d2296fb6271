"""Versioned create/read/vread/update/delete and history, on every store."""

from __future__ import annotations

from typing import Any

import pytest

from joinedup.store import Gone, IdConflict, NotFound, Store, VersionConflict


def patient(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"family": "Okafor", "given": ["Ada"]}], **fields}


def test_create_assigns_id_version_and_last_updated(store: Store) -> None:
    result = store.create(patient(id="ignored"), source_org="Organization/ods-A81001")
    stored = result.stored
    assert result.outcome == "created"
    assert stored is not None and stored.id != "ignored"
    assert stored.version_id == 1
    assert stored.resource is not None
    assert stored.resource["meta"]["versionId"] == "1"
    assert stored.resource["meta"]["lastUpdated"] == stored.last_updated
    read = store.read("Patient", stored.id)
    assert read.resource == stored.resource
    assert read.source_org == "Organization/ods-A81001"
    assert read.etag == 'W/"1"'


def test_create_with_explicit_id_and_conflict(store: Store) -> None:
    store.create(patient(), id="p-1")
    with pytest.raises(IdConflict) as raised:
        store.create(patient(), id="p-1")
    assert raised.value.status == 409


def test_update_versions_and_vread_returns_each(store: Store) -> None:
    first = store.create(patient(), id="p-2").stored
    assert first is not None and first.resource is not None
    second = store.update({**first.resource, "gender": "female"}).stored
    assert second is not None and second.version_id == 2
    assert store.vread("Patient", "p-2", 1).resource is not None
    assert "gender" not in (store.vread("Patient", "p-2", 1).resource or {})
    assert (store.vread("Patient", "p-2", 2).resource or {})["gender"] == "female"
    with pytest.raises(NotFound):
        store.vread("Patient", "p-2", 3)


def test_update_as_create_with_client_id(store: Store) -> None:
    result = store.update(patient(id="client-chosen"))
    assert result.outcome == "created"
    assert store.read("Patient", "client-chosen").version_id == 1


def test_if_match_accepts_current_and_rejects_stale(store: Store) -> None:
    store.create(patient(), id="p-3")
    store.update(patient(id="p-3", gender="male"), if_match=1)
    with pytest.raises(VersionConflict) as raised:
        store.update(patient(id="p-3", gender="female"), if_match=1)
    assert raised.value.status == 412
    assert store.read("Patient", "p-3").version_id == 2


def test_delete_is_soft_with_history(store: Store) -> None:
    store.create(patient(), id="p-4")
    deleted = store.delete("Patient", "p-4")
    assert deleted.outcome == "deleted"
    with pytest.raises(Gone) as raised:
        store.read("Patient", "p-4")
    assert raised.value.status == 410
    history = store.history("Patient", "p-4")
    assert [(e.version_id, e.deleted) for e in history.entries] == [(2, True), (1, False)]
    assert history.entries[0].resource is None
    assert store.delete("Patient", "p-4").outcome == "absent"
    assert store.delete("Patient", "never-was").outcome == "absent"
    # Writing again after a delete brings the resource back as a new version.
    again = store.update(patient(id="p-4"))
    assert again.outcome == "created"
    assert again.stored is not None and again.stored.version_id == 3


def test_delete_with_stale_if_match_is_refused(store: Store) -> None:
    store.create(patient(), id="p-5")
    store.update(patient(id="p-5"))
    with pytest.raises(VersionConflict):
        store.delete("Patient", "p-5", if_match=1)
    assert store.read("Patient", "p-5").version_id == 2


def test_read_of_unknown_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound) as raised:
        store.read("Patient", "nobody")
    assert raised.value.status == 404


def test_history_since_count_and_levels(store: Store) -> None:
    store.create(patient(), id="h-1")
    store.update(patient(id="h-1", gender="male"))
    middle = store.read("Patient", "h-1").last_updated
    store.create({"resourceType": "Organization", "name": "Leeds PCN"}, id="o-1")
    store.update(patient(id="h-1", gender="female"))

    instance = store.history("Patient", "h-1")
    assert [e.version_id for e in instance.entries] == [3, 2, 1]
    assert instance.total == 3
    since = store.history("Patient", "h-1", since=middle)
    assert [e.version_id for e in since.entries] == [3, 2]
    type_level = store.history("Patient")
    assert {e.resource_type for e in type_level.entries} == {"Patient"}
    system = store.history()
    assert system.total == 4
    # Paging with _count walks every version once, newest first.
    seen, cursor = [], None
    while True:
        page = store.history(count=3, cursor=cursor)
        seen += [(e.resource_type, e.id, e.version_id) for e in page.entries]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == 4 and len(set(seen)) == 4
    with pytest.raises(NotFound):
        store.history("Patient", "nobody")


def test_iter_resources_streams_current_resources(store: Store) -> None:
    for i in range(5):
        store.create(patient(), id=f"it-{i}")
    store.create({"resourceType": "Organization", "name": "x"}, id="org")
    store.delete("Patient", "it-0")
    ids = sorted(r.id for r in store.iter_resources(["Patient"]))
    assert ids == ["it-1", "it-2", "it-3", "it-4"]
    assert len(list(store.iter_resources())) == 5
