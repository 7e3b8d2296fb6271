from typing import Any

from joinedup.access.consent import (
    DECLINE_SHARING,
    DENY_ORG,
    NATIONAL_OPT_OUT_POLICY,
    RESTRICTED_LABEL,
    Choice,
    choices_of,
)

ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def consent(provision: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "status": "active",
        "patient": {"reference": "Patient/p1"},
        "provision": provision,
    } | extra


def test_a_bare_top_level_deny_declines_sharing() -> None:
    assert choices_of(consent({"type": "deny"})) == [Choice("p1", DECLINE_SHARING)]


def test_named_organisations_and_labels_in_nested_denials() -> None:
    found = choices_of(
        consent(
            {
                "type": "permit",
                "provision": [
                    {"type": "deny", "actor": [{"reference": {"reference": "Organization/H1"}}]},
                    {
                        "type": "deny",
                        "actor": [
                            {
                                "reference": {
                                    "identifier": {
                                        "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                                        "value": "RXX",
                                    }
                                }
                            }
                        ],
                    },
                    {"type": "deny", "securityLabel": [{"system": ACT, "code": "PSY"}]},
                    {"type": "permit", "actor": [{"reference": {"reference": "Organization/OK"}}]},
                ],
            }
        )
    )
    assert found == [
        Choice("p1", DENY_ORG, "H1"),
        Choice("p1", DENY_ORG, "RXX"),
        Choice("p1", RESTRICTED_LABEL, f"{ACT}|PSY"),
    ]


def test_inactive_opt_out_and_patientless_consents_express_nothing_for_direct_care() -> None:
    assert choices_of(consent({"type": "deny"}, status="inactive")) == []
    assert choices_of(consent({"type": "deny"}, policy=[{"uri": NATIONAL_OPT_OUT_POLICY}])) == []
    assert choices_of(consent({"type": "deny"}, patient=None)) == []


def test_the_synthetic_ics_conventions() -> None:
    treat = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "TREAT"}
    research = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HRESCH"}
    declined = consent({"type": "deny", "purpose": [treat]})
    assert choices_of(declined) == [Choice("p1", DECLINE_SHARING)]
    # A denial for research only is not a direct-care choice, nor is a research-scoped one.
    assert choices_of(consent({"type": "deny", "purpose": [research]})) == []
    assert choices_of(consent({"type": "deny"}, scope={"coding": [{"code": "research"}]})) == []
