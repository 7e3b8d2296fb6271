"""``iter_json``: every current resource's stored JSON, unparsed, exactly what ``read`` returns,
on every store; and the streaming reads leave the calling thread free to write."""

from __future__ import annotations

from typing import Any

import orjson

from joinedup.store import Store


class OnlyType:
    def __init__(self, resource_type: str) -> None:
        self.resource_type = resource_type

    def sql(self, dialect: str, alias: str) -> tuple[str, list[Any]]:
        return f"{alias}.resource_type = ?", [self.resource_type]


def fill(store: Store) -> None:
    store.bulk_load(
        [
            {
                "resourceType": "Patient",
                "id": f"p{i}",
                "name": [{"family": "Ng\u00e9", "given": ["Line\nbreak", "\u00e9\u00e8"]}],
                "multipleBirthInteger": i,
            }
            for i in range(7)
        ]
        + [{"resourceType": "Organization", "id": "org", "name": "Practice"}]
    )
    store.update({"resourceType": "Patient", "id": "p1", "gender": "female"})
    store.delete("Patient", "p2")


def test_iter_json_is_the_stored_resource_exactly_as_read_returns_it(store: Store) -> None:
    fill(store)
    lines = list(store.iter_json(["Patient"]))
    assert all(isinstance(line, str) and "\n" not in line for line in lines)
    exported = {r["id"]: r for r in map(orjson.loads, lines)}
    assert sorted(exported) == ["p0", "p1", "p3", "p4", "p5", "p6"]
    for resource_id, resource in exported.items():
        assert resource == store.read("Patient", resource_id).resource
    assert exported["p1"]["meta"]["versionId"] == "2"
    assert exported["p1"]["gender"] == "female"
    assert sum(1 for _ in store.iter_json()) == 7


def test_iter_json_narrows_by_since_and_restriction_like_iter_resources(store: Store) -> None:
    fill(store)
    since = store.read("Patient", "p1").last_updated
    recent = [orjson.loads(line)["id"] for line in store.iter_json(["Patient"], since)]
    assert recent == ["p1"]
    only = OnlyType("Organization")
    assert [orjson.loads(line)["id"] for line in store.iter_json(restriction=only)] == ["org"]
    assert [s.id for s in store.iter_resources(restriction=only)] == ["org"]


def test_the_iterating_thread_may_write_while_a_stream_is_open(store: Store) -> None:
    fill(store)
    written = []
    for line in store.iter_json(["Patient"]):
        # What the export runner does: record progress in the database mid-stream.
        result = store.create({"resourceType": "Basic", "code": {"text": orjson.loads(line)["id"]}})
        written.append(result.outcome)
    for resource in store.iter_resources(["Organization"]):
        store.update({**(resource.resource or {}), "name": "Renamed"})
    assert written == ["created"] * 6
    assert (store.read("Organization", "org").resource or {})["name"] == "Renamed"
