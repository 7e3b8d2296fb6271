"""The text path (:mod:`joinedup.export.verbatim`) de-identifies exactly as the full transform:
any resource text it clears, rewritten, parses to what ``Deidentification.apply`` returns (less
the top-level ``text``, which the columnar writer leaves out), and the opt-out removes the same
resources. Checked on generated resources full of what the transform acts on, spelled as
orjson and as PostgreSQL's JSONB write them, and in a mix of the two."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.export.deidentify import RESOURCE_ELEMENTS_REMOVED, Deidentification
from joinedup.export.optouts import OptOutFilter
from joinedup.export.pseudonyms import Pseudonymiser
from joinedup.export.verbatim import verbatim
from joinedup.fhir.nhs_number import SYSTEM as NHS_NUMBER

DEID = Deidentification(Pseudonymiser(b"v" * 32))
OPTED_OUT = {"p1"}
COMPARTMENT = [("Encounter", "e2"), ("Observation", "o1")]
KEYS = [
    "reference", "display", "identifier", "system", "value", "text", "note", "presentedForm",
    "contentType", "data", "resourceType", "contained", "id", "code", "subject", "div",
    "extension", "member", "entity",
]  # fmt: skip
STRINGS = [
    "Patient/p1", "Patient/p2", "Encounter/e1", "Encounter/e2", "Observation/o1",
    "http://x/fhir/Patient/p1", "Patient/p1/_history/2", "Patient/p 1", "urn:uuid:1",
    NHS_NUMBER, "Jo Bloggs", "note", "reference", 'quote"d', "back\\slash", "Ünïcode",
]  # fmt: skip


def resources_of(
    types: list[str], keys: list[str], strings: list[str]
) -> st.SearchStrategy[dict[str, Any]]:
    scalars = (
        st.sampled_from(strings)
        | st.integers(-3, 3)
        | st.booleans()
        | st.none()
        | st.floats(allow_nan=False, allow_infinity=False)
    )
    references = st.builds(lambda r: {"reference": r}, st.sampled_from(strings))
    values = st.recursive(
        scalars | references,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(keys), inner, max_size=3)
        ),
        max_leaves=8,
    )
    top = [k for k in keys if k not in {"resourceType", "id"}]
    return st.builds(
        lambda resource_type, id, subject, body: {
            "resourceType": resource_type,
            "id": id,
            "subject": subject,
            **body,
        },
        st.sampled_from(types),
        st.sampled_from(["e1", "e2", "o1", "x-9"]),
        references,
        st.dictionaries(st.sampled_from(top), values, max_size=4),
    )


# Mostly resources made of what the text path clears (so many are cleared, with references
# to rewrite and to opt out), spiced with everything the transform acts on.
PLAIN_TYPES = ["Encounter", "Observation", "Claim"]
PLAIN_KEYS = ["code", "subject", "value", "system", "extension", "member", "text"]
resources = resources_of(PLAIN_TYPES, PLAIN_KEYS, STRINGS[:5]) | resources_of(
    [*PLAIN_TYPES, "Patient", "Group"], KEYS, STRINGS
)


def jsonb(value: Any) -> Any:
    """Keys in JSONB's order (shorter first, then bytewise), at every depth."""
    if isinstance(value, dict):
        ordered = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return {k: jsonb(value[k]) for k in ordered}
    if isinstance(value, list):
        return [jsonb(item) for item in value]
    return value


def spelled(resource: dict[str, Any], spelling: str) -> str:
    if spelling == "orjson":
        return orjson.dumps(resource).decode()
    if spelling == "jsonb":
        return json.dumps(jsonb(resource), ensure_ascii=False)
    # orjson's head, spaces after the colons in the rest: valid JSON a text must not be fooled by.
    head, rest = (
        orjson.dumps({k: resource[k] for k in ("resourceType", "id")}),
        {k: v for k, v in resource.items() if k not in ("resourceType", "id")},
    )
    body = json.dumps(rest, separators=(",", ": "), ensure_ascii=False)
    return head.decode()[:-1] + ("," + body[1:] if rest else "}")


@settings(max_examples=1500, deadline=None)
@given(resources, st.sampled_from(["orjson", "jsonb", "mixed"]))
def test_a_cleared_text_de_identifies_and_opts_out_as_the_full_transform(
    resource: dict[str, Any], spelling: str
) -> None:
    text = spelled(resource, spelling)
    cleared = verbatim(text, resource["resourceType"])
    if cleared is None:
        return
    rewritten = orjson.loads(cleared.with_pseudonyms(DEID.pseudonymiser.patient))
    for name in RESOURCE_ELEMENTS_REMOVED:
        rewritten.pop(name, None)
    assert rewritten == DEID.apply(resource)
    by_text, by_dict = OptOutFilter(OPTED_OUT, COMPARTMENT), OptOutFilter(OPTED_OUT, COMPARTMENT)
    for removed in ("Encounter/e1", "Claim/x-9"):  # as if removed earlier in the stream
        by_text.removed.add(removed)
        by_dict.removed.add(removed)
    key = f"{resource['resourceType']}/{cleared.id}"
    assert by_text.removes_relative(key, cleared.references) is (by_dict.apply(resource) is None)
    assert (by_text.removed, by_text.removed_count) == (by_dict.removed, by_dict.removed_count)


ENCOUNTER = {
    "resourceType": "Encounter",
    "id": "e1",
    "status": "finished",
    "class": {"code": "AMB", "text": "ambulatory"},
    "subject": {"reference": "Patient/p1"},
    "participant": [{"individual": {"reference": "PractitionerRole/r1"}}],
    "reasonReference": [{"reference": "Condition/c1"}, {"reference": "Patient/p1"}],
}


@pytest.mark.parametrize("spelling", ["orjson", "jsonb", "mixed"])
def test_a_plain_clinical_resource_is_cleared_in_any_spelling(spelling: str) -> None:
    cleared = verbatim(spelled(ENCOUNTER, spelling), "Encounter")
    assert cleared is not None and cleared.id == "e1"
    rewritten = orjson.loads(cleared.with_pseudonyms(DEID.pseudonymiser.patient))
    assert rewritten == DEID.apply(ENCOUNTER)
    assert rewritten["subject"]["reference"] == f"Patient/{DEID.pseudonymiser.patient('p1')}"


@pytest.mark.parametrize(
    "change",
    [
        {"text": {"status": "generated", "div": "<div>Jo</div>"}},
        {"note": [{"text": "Jo rang"}]},
        {"subject": {"reference": "Patient/p1", "display": "Jo Bloggs"}},
        {"subject": {"reference": "http://x/fhir/Patient/p1"}},
        {"subject": {"reference": "Patient/p1/_history/1"}},
        {"identifier": [{"system": NHS_NUMBER, "value": "9990000018"}]},
        {"extension": [{"url": "x", "valueAttachment": {"contentType": "text/plain"}}]},
        {"contained": [{"resourceType": "Patient", "id": "c"}]},
        {"class": {"code": "AMB", "text": 'say "hi"'}},
        {"resourceType": "Observation"},
    ],
    ids=lambda change: next(iter(change)) + ":" + str(next(iter(change.values())))[:24],
)
def test_anything_the_transform_acts_on_takes_the_full_path(change: dict[str, Any]) -> None:
    resource = {**ENCOUNTER, **change}
    assert verbatim(orjson.dumps(resource).decode(), "Encounter") is None


@pytest.mark.parametrize("resource_type", ["Patient", "Practitioner", "Group", "List"])
def test_people_and_cohort_lists_take_the_full_path(resource_type: str) -> None:
    resource = {**ENCOUNTER, "resourceType": resource_type}
    assert verbatim(orjson.dumps(resource).decode(), resource_type) is None
