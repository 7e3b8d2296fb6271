"""StoredResource: the stored JSON text is handed over as it is and parsed only when used."""

from __future__ import annotations

import orjson
import pytest

from joinedup.store import StoredResource

PATIENT = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Smith"}]}
TEXT = orjson.dumps(PATIENT).decode()


def test_text_from_the_store_is_passed_on_unchanged_and_parsed_on_demand() -> None:
    stored = StoredResource("Patient", "p1", 1, "2026-01-01T00:00:00+00:00", False, text=TEXT)
    assert stored.text is TEXT
    assert stored.resource == PATIENT
    assert stored.resource is stored.resource  # parsed once


def test_a_resource_given_as_a_dict_has_its_json_text() -> None:
    stored = StoredResource("Patient", "p1", 1, "2026-01-01T00:00:00+00:00", False, PATIENT)
    assert stored.text is not None and orjson.loads(stored.text) == PATIENT
    from_text = StoredResource("Patient", "p1", 1, "2026-01-01T00:00:00+00:00", False, text=TEXT)
    assert stored == from_text


def test_a_deletion_has_neither() -> None:
    gone = StoredResource("Patient", "p1", 2, "2026-01-01T00:00:00+00:00", True)
    assert gone.resource is None and gone.text is None and gone.etag == 'W/"2"'


def test_it_is_immutable_and_its_repr_carries_no_content() -> None:
    stored = StoredResource("Patient", "p1", 1, "2026-01-01T00:00:00+00:00", False, text=TEXT)
    with pytest.raises(AttributeError):
        stored.version_id = 2  # type: ignore[misc]
    assert "Smith" not in repr(stored) and "Patient/p1" in repr(stored)
