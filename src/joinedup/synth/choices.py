"""People's choices about their data, as Consent resources.

- National data opt-out (NHS England: about 5.4% of patients in 2022-23): scope ``research``
  (the opt-out covers research and planning), category LOINC 59284-0 "Patient consent" plus
  local ``national-data-opt-out``, policy ``https://digital.nhs.uk/services/national-data-opt-out``,
  provision ``deny`` for purposes HRESCH (research) and local ``planning``.
- Declining record sharing (a few per cent): scope ``patient-privacy``, category 59284-0 plus
  local ``shared-care-record``, policy :data:`~joinedup.synth.vocabulary.SHARED_RECORD_POLICY`,
  provision ``deny`` for purpose TREAT: the person's record is not shared beyond the
  organisation that holds it (emergency break-glass is the access policy's decision).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from joinedup.synth import vocabulary as v
from joinedup.synth.record import PersonRecord, ref

OPT_OUT_RATE = 0.054
DECLINE_SHARING_RATE = 0.02
PURPOSE_OF_USE = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
CONSENT_CATEGORY = v.concept(v.LOINC, "59284-0", "Patient Consent")
CONSENT_LOCAL_CATEGORY = f"{v.LOCAL}/CodeSystem/consent-category"


def _consent(
    record: PersonRecord,
    *,
    scope: str,
    kind: str,
    policy: str,
    purposes: list[dict[str, Any]],
    on: date,
    organisation: str,
) -> None:
    record.add(
        "Consent",
        {
            "status": "active",
            "scope": v.concept(v.CONSENT_SCOPE, scope),
            "category": [CONSENT_CATEGORY, v.concept(CONSENT_LOCAL_CATEGORY, kind)],
            "patient": record.patient_ref,
            "dateTime": on.isoformat(),
            "organization": [ref("Organization", organisation)],
            "policy": [{"uri": policy}],
            "provision": {"type": "deny", "purpose": purposes},
        },
    )


def add_choices(
    record: PersonRecord, rng: random.Random, start: date, last_day: date, practice_org: str
) -> None:
    if rng.random() < OPT_OUT_RATE:
        _consent(
            record,
            scope="research",
            kind="national-data-opt-out",
            policy=v.NATIONAL_OPT_OUT_POLICY,
            purposes=[
                v.coding(PURPOSE_OF_USE, "HRESCH", "healthcare research"),
                v.coding(CONSENT_LOCAL_CATEGORY, "planning", "Planning and commissioning"),
            ],
            on=start - timedelta(days=rng.randrange(1, 1_500)),
            organisation=practice_org,
        )
    if rng.random() < DECLINE_SHARING_RATE:
        _consent(
            record,
            scope="patient-privacy",
            kind="shared-care-record",
            policy=v.SHARED_RECORD_POLICY,
            purposes=[v.coding(PURPOSE_OF_USE, "TREAT", "treatment")],
            on=min(last_day, start + timedelta(days=rng.randrange(0, 700))),
            organisation=practice_org,
        )
