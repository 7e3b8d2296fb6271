"""The code systems, extension URLs and codes the synthetic ICS writes.

These are the conventions later work (views, measures, pathways) builds on; they are
documented in ``docs/synthetic-data.md`` and must stay stable once written. National
systems are used where one exists; the rest live under :data:`LOCAL`, a base URI in the
reserved ``example.org`` domain so it can never collide with a real system.
"""

from __future__ import annotations

from typing import Any

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_SITE = "https://fhir.nhs.uk/Id/ods-site-code"

#: UK Core ethnicity: the extension and the NHS Data Dictionary (2001 census) categories.
ETHNICITY_EXTENSION = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory"
ETHNICITY_SYSTEM = "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland"
#: NHS Data Dictionary "Discharge Destination Code (Hospital Provider Spell)" as UK Core spells it.
DISCHARGE_DESTINATION = "https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeDestinationEngland"

ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
ENCOUNTER_CLASS = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"

LOCAL = "https://joinedup.example.org/fhir"
LSOA_EXTENSION = f"{LOCAL}/StructureDefinition/lsoa"
"""On ``Patient.address``: valueCoding, system :data:`LSOA_SYSTEM`, the LSOA 2011 code."""
IMD_EXTENSION = f"{LOCAL}/StructureDefinition/imd-decile"
"""On ``Patient.address``: valueInteger, the national IMD 2019 decile (1 = most deprived)."""
LSOA_SYSTEM = "https://geoportal.statistics.gov.uk/lsoa-2011"
LA_DISTRICT = f"{LOCAL}/Id/local-authority-district"
"""On the council Organization: its ONS local authority district code (real with ``--imd``)."""
ORG_ROLE = f"{LOCAL}/CodeSystem/ics-organisation-role"
STAFF_ROLE = f"{LOCAL}/CodeSystem/ics-staff-role"
ENCOUNTER_TYPE = f"{LOCAL}/CodeSystem/encounter-type"
EPISODE_TYPE = f"{LOCAL}/CodeSystem/episode-type"
CAREPLAN_CATEGORY = f"{LOCAL}/CodeSystem/careplan-category"
SERVICE_CATEGORY = f"{LOCAL}/CodeSystem/service-category"
OBSERVATION_CODE = f"{LOCAL}/CodeSystem/observation"
PHYSICAL_ACTIVITY = f"{LOCAL}/CodeSystem/physical-activity-level"
EMPLOYMENT = f"{LOCAL}/CodeSystem/employment-status"
PLACE_OF_DEATH = f"{LOCAL}/CodeSystem/place-of-death"
CONDITION_GROUP = f"{LOCAL}/CodeSystem/long-term-condition"
SHARED_RECORD_POLICY = f"{LOCAL}/policy/shared-care-record"
NATIONAL_OPT_OUT_POLICY = "https://digital.nhs.uk/services/national-data-opt-out"


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"system": system, "code": code}
    if display is not None:
        result["display"] = display
    return result


def concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    """A CodeableConcept with one coding (and its display as text)."""
    result: dict[str, Any] = {"coding": [coding(system, code, display)]}
    if display is not None:
        result["text"] = display
    return result


#: 2001 census ethnic categories (NHS Data Dictionary ETHNIC CATEGORY), code -> display.
ETHNIC_CATEGORIES: dict[str, str] = {
    "A": "White - British",
    "B": "White - Irish",
    "C": "White - Any other White background",
    "D": "Mixed - White and Black Caribbean",
    "E": "Mixed - White and Black African",
    "F": "Mixed - White and Asian",
    "G": "Mixed - Any other mixed background",
    "H": "Asian or Asian British - Indian",
    "J": "Asian or Asian British - Pakistani",
    "K": "Asian or Asian British - Bangladeshi",
    "L": "Asian or Asian British - Any other Asian background",
    "M": "Black or Black British - Caribbean",
    "N": "Black or Black British - African",
    "P": "Black or Black British - Any other Black background",
    "R": "Other Ethnic Groups - Chinese",
    "S": "Other Ethnic Groups - Any other ethnic group",
    "Z": "Not stated",
}

#: Discharge destinations used, NHS Data Dictionary code -> display (abridged).
DISCHARGE_DESTINATIONS: dict[str, str] = {
    "19": "Usual place of residence",
    "51": "NHS other hospital provider - ward for general patients",
    "54": "NHS run care home",
    "65": "Local authority residential accommodation",
    "79": "Not applicable - patient died or stillbirth",
    "85": "Non-NHS (other than local authority) run care home",
}
