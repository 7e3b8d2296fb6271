"""The person's own resources: Patient (UK Core), their Conditions, long-term medication,
and where they died."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from joinedup.fhir import nhs_number
from joinedup.synth import vocabulary as v
from joinedup.synth.conditions import BY_KEY
from joinedup.synth.context import SynthContext
from joinedup.synth.names import human_name
from joinedup.synth.organisations import postcode
from joinedup.synth.record import PersonRecord, ref

NHS_NUMBER_VERIFICATION = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
)
NHS_NUMBER_VERIFICATION_SYSTEM = (
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"
)
#: One representative long-term medicine per condition (SNOMED CT substance concepts).
MEDICINES: dict[str, tuple[str, str]] = {
    "hypertension": ("386864001", "Amlodipine"),
    "diabetes": ("372567009", "Metformin"),
    "ckd": ("386872004", "Ramipril"),
    "chd": ("373444002", "Atorvastatin"),
    "atrial_fibrillation": ("698090000", "Apixaban"),
    "heart_failure": ("387475002", "Furosemide"),
    "stroke": ("373444002", "Atorvastatin"),
    "copd": ("372897005", "Salbutamol"),
    "asthma": ("372897005", "Salbutamol"),
    "depression": ("372594008", "Sertraline"),
    "osteoarthritis": ("387517004", "Paracetamol"),
    "osteoporosis": ("391730008", "Alendronic acid"),
}


def add_patient(record: PersonRecord, ctx: SynthContext, rng: random.Random) -> None:
    person = record.person
    practice = ctx.directory.practices[person.practice].org
    address: dict[str, Any] = {
        "extension": [
            {
                "url": v.LSOA_EXTENSION,
                "valueCoding": v.coding(v.LSOA_SYSTEM, person.lsoa.code),
            },
            {"url": v.IMD_EXTENSION, "valueInteger": person.lsoa.decile},
        ],
        "use": "home",
        "line": [f"{rng.randint(1, 180)} {rng.choice(STREETS)}"],
        "city": ctx.areas[person.place].name,
        "postalCode": postcode(f"QJ{person.place + 1}", 1 + person.serial % 6, person.serial),
        "country": "GB",
    }
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": person.id,
        "extension": [
            {
                "url": v.ETHNICITY_EXTENSION,
                "valueCodeableConcept": v.concept(
                    v.ETHNICITY_SYSTEM, person.ethnicity, v.ETHNIC_CATEGORIES[person.ethnicity]
                ),
            }
        ],
        "identifier": [
            {
                "extension": [
                    {
                        "url": NHS_NUMBER_VERIFICATION,
                        "valueCodeableConcept": v.concept(
                            NHS_NUMBER_VERIFICATION_SYSTEM, "01", "Number present and verified"
                        ),
                    }
                ],
                "system": nhs_number.SYSTEM,
                "value": nhs_number.from_serial(person.serial),
            }
        ],
        "name": [human_name(rng, person.sex)],
        "gender": person.sex,
        "birthDate": person.birth.isoformat(),
        "address": [address],
        "generalPractitioner": [ref("Organization", practice)],
        "managingOrganization": ref("Organization", practice),
    }
    if person.death is not None:
        patient["deceasedDateTime"] = person.death.isoformat()
    record.resources.append(patient)


STREETS = (
    "High Street",
    "Church Road",
    "Station Road",
    "Mill Lane",
    "Park Avenue",
    "Victoria Road",
)


def add_conditions(record: PersonRecord, ctx: SynthContext) -> None:
    person = record.person
    practice = ctx.directory.practices[person.practice]
    for key, onset in sorted(person.conditions.items(), key=lambda item: (item[1], item[0])):
        model = BY_KEY[key]
        code = v.concept(v.SNOMED, model.snomed, model.display)
        code["coding"].append(v.coding(v.CONDITION_GROUP, key))
        record.condition_ids[key] = record.add(
            "Condition",
            {
                "clinicalStatus": v.concept(v.CONDITION_CLINICAL, "active"),
                "verificationStatus": v.concept(v.CONDITION_VERIFICATION, "confirmed"),
                "category": [v.concept(v.CONDITION_CATEGORY, "problem-list-item")],
                "code": code,
                "subject": record.patient_ref,
                "onsetDateTime": onset.isoformat(),
                "recordedDate": onset.isoformat(),
                "recorder": ref("PractitionerRole", practice.gps[0]),
            },
        )
        if key in MEDICINES:
            substance, name = MEDICINES[key]
            authored = max(onset, ctx.start)
            if person.death is not None and authored > person.death:
                continue
            record.add(
                "MedicationRequest",
                {
                    "status": "stopped" if person.death is not None else "active",
                    "intent": "order",
                    "courseOfTherapyType": v.concept(
                        "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy",
                        "continuous",
                    ),
                    "medicationCodeableConcept": v.concept(v.SNOMED, substance, name),
                    "subject": record.patient_ref,
                    "authoredOn": authored.isoformat(),
                    "requester": ref("PractitionerRole", practice.gps[0]),
                    "reasonReference": [ref("Condition", record.condition_ids[key])],
                    "dispenseRequest": {"numberOfRepeatsAllowed": 11},
                },
            )


PLACE_OF_DEATH_DISPLAY = {
    "home": "Home",
    "care-home": "Care home",
    "hospital": "Hospital",
    "hospice": "Hospice",
    "other": "Other place",
}


def place_of_death(
    person_in_care_home: bool, has_end_of_life_condition: bool, rng: random.Random
) -> str:
    """ONS deaths by place of occurrence, England 2019: hospital ~45%, home ~24%, care home
    ~22%, hospice ~6%; care-home residents mostly die there, people with cancer or dementia
    die at home or in a hospice more often."""
    if person_in_care_home:
        return "care-home" if rng.random() < 0.85 else "hospital"
    draw = rng.random()
    home, hospice = (0.38, 0.14) if has_end_of_life_condition else (0.3, 0.03)
    if draw < home:
        return "home"
    if draw < home + hospice:
        return "hospice"
    return "hospital" if draw < 0.97 else "other"


def add_death(record: PersonRecord, where: str, on: date) -> None:
    record.observation(
        v.concept(v.OBSERVATION_CODE, "place-of-death", "Place of death"),
        on,
        {"valueCodeableConcept": v.concept(v.PLACE_OF_DEATH, where, PLACE_OF_DEATH_DISPLAY[where])},
        category="social-history",
    )
