"""Who has a national data opt-out, and what removing them takes with it."""

from __future__ import annotations

from typing import Any

from joinedup.export.optouts import OptOutFilter, opted_out_patients, stream_order
from joinedup.synth.vocabulary import NATIONAL_OPT_OUT_POLICY, SHARED_RECORD_POLICY


def consent(patient: str, **changes: Any) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "status": "active",
        "patient": {"reference": f"Patient/{patient}"},
        "policy": [{"uri": NATIONAL_OPT_OUT_POLICY}],
        "provision": {"type": "deny"},
    } | changes


def test_only_live_refusals_of_the_national_policy_count() -> None:
    consents = [
        consent("a"),
        consent("b", status="inactive"),
        consent("c", provision={"type": "permit"}),
        consent("d", policy=[{"uri": SHARED_RECORD_POLICY}]),
        consent("e", provision={}),
    ]
    assert opted_out_patients(consents) == {"a", "e"}


def test_removal_follows_references_in_every_form_and_through_removed_resources() -> None:
    optouts = OptOutFilter({"a"})
    encounter = {"resourceType": "Encounter", "id": "e1", "subject": {"reference": "Patient/a"}}
    absolute = {
        "resourceType": "Observation",
        "id": "o1",
        "performer": [{"reference": "https://x/fhir/Patient/a/_history/3"}],
    }
    claim = {
        "resourceType": "Claim",
        "id": "c1",
        "item": [{"encounter": [{"reference": "Encounter/e1"}]}],
    }
    other = {"resourceType": "Encounter", "id": "e2", "subject": {"reference": "Patient/b"}}
    assert optouts.apply(encounter) is None
    assert optouts.apply(absolute) is None
    assert optouts.apply(claim) is None
    assert optouts.apply(other) == other
    assert optouts.removed_count == 3


def test_cohorts_lose_the_member_not_the_cohort() -> None:
    optouts = OptOutFilter({"a"}, compartment=[("Group", "g"), ("Condition", "x")])
    group = {
        "resourceType": "Group",
        "id": "g",
        "quantity": 2,
        "member": [{"entity": {"reference": "Patient/a"}}, {"entity": {"reference": "Patient/b"}}],
    }
    kept = optouts.apply(group)
    assert kept is not None and kept["quantity"] == 1
    assert kept["member"] == [{"entity": {"reference": "Patient/b"}}]
    assert optouts.apply({"resourceType": "Condition", "id": "x"}) is None


def test_stream_order_puts_the_largest_first_and_resources_about_resources_last() -> None:
    sizes = {"Provenance": 9, "Observation": 5, "Claim": 1, "Patient": 2, "Encounter": 7}
    order = stream_order(sizes | {"Condition": 5, "Location": 1})
    assert order == [
        "Encounter",
        "Condition",
        "Observation",
        "Patient",
        "Location",
        "Claim",
        "Provenance",
    ]
