"""The ICS directory as FHIR: Organization (with ``partOf``), Location, Practitioner,
PractitionerRole and OrganizationAffiliation, with ODS-style identifiers.

Hierarchy: practice -> PCN -> Place -> ICB. Trusts stand beside the ICB (NHS trusts are not
part of it); the community rehabilitation service is part of the community trust; each
local authority's adult social care department is part of its council; care homes are
independent providers. Each Place's board is the Place Organization: member organisations
are OrganizationAffiliation (code ``board-member``) and the accountable person holds a
PractitionerRole ``place-accountable-person`` there.

The directory also carries each Place's and PCN's service profile (how well it does), drawn
here once so that outcomes differ between Places.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from joinedup.synth import vocabulary as v
from joinedup.synth.geography import PlaceArea
from joinedup.synth.names import human_name
from joinedup.synth.structure import StructurePlan

STAFF_DISPLAY = {
    "gp": "General practitioner",
    "practice-nurse": "Practice nurse",
    "first-contact-practitioner": "First contact practitioner (physiotherapist)",
    "clinical-pharmacist": "Clinical pharmacist",
    "social-prescriber": "Social prescribing link worker",
    "pcn-clinical-director": "PCN clinical director",
    "hospital-doctor": "Hospital doctor",
    "physiotherapist": "Physiotherapist",
    "occupational-therapist": "Occupational therapist",
    "community-nurse": "Community nurse",
    "psychiatrist": "Psychiatrist",
    "social-worker": "Social worker",
    "care-worker": "Care worker",
    "board-member": "Place board member",
    "place-accountable-person": "Person accountable for the Place's shared outcomes",
}
HOME_NAMES = ("Oak", "Elm", "Beech", "Willow", "Rowan")
#: SNOMED CT occupations added beside the local code where one exists.
STAFF_SNOMED = {
    "gp": ("62247001", "General practitioner"),
    "first-contact-practitioner": ("36682004", "Physiotherapist"),
    "physiotherapist": ("36682004", "Physiotherapist"),
    "occupational-therapist": ("80546007", "Occupational therapist"),
    "social-worker": ("106328005", "Social worker"),
}


@dataclass(frozen=True)
class PlaceServices:
    """How one Place's services perform; drawn once, so Places differ."""

    org: str
    acute: str
    hospital_doctors: tuple[str, ...]
    ward_therapists: tuple[str, ...]
    asc: str
    social_workers: tuple[str, ...]
    care_workers: tuple[str, ...]
    care_homes: tuple[str, ...]
    rehab_location: str
    rehab_staff: tuple[str, ...]
    median_rehab_wait_days: float
    rehab_prescription_rate: float
    reablement_success: float
    hypertension_control: float
    flu_uptake: float
    smi_check_rate: float
    care_plan_rate: float


@dataclass(frozen=True)
class PracticeServices:
    org: str
    place: int
    gps: tuple[str, ...]
    nurses: tuple[str, ...]
    fcps: tuple[str, ...]
    #: share of MSK contacts the PCN's first contact practitioners take
    fcp_share: float


@dataclass
class Directory:
    resources: list[dict[str, Any]] = field(default_factory=list)
    places: list[PlaceServices] = field(default_factory=list)
    practices: list[PracticeServices] = field(default_factory=list)
    community_trust: str = ""
    rehab_service: str = ""
    mental_health_trust: str = ""
    psychiatrists: tuple[str, ...] = ()


class _Builder:
    """Appends directory resources; keeps the counters for ids and ODS codes."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"{seed}:organisations")
        self.resources: list[dict[str, Any]] = []
        self.staff = 0

    def organisation(
        self,
        id_: str,
        ods: str,
        name: str,
        role: str,
        part_of: str | None = None,
        hl7_type: str | None = None,
    ) -> str:
        types = [v.concept(v.ORG_ROLE, role)]
        if hl7_type is not None:
            types.append(v.concept(v.ORGANIZATION_TYPE, hl7_type))
        resource: dict[str, Any] = {
            "resourceType": "Organization",
            "id": id_,
            "identifier": [{"system": v.ODS, "value": ods}],
            "active": True,
            "type": types,
            "name": name,
        }
        if part_of is not None:
            resource["partOf"] = {"reference": f"Organization/{part_of}"}
        self.resources.append(resource)
        return id_

    def location(self, id_: str, site: str, name: str, org: str, postcode: str) -> str:
        self.resources.append(
            {
                "resourceType": "Location",
                "id": id_,
                "identifier": [{"system": v.ODS_SITE, "value": site}],
                "status": "active",
                "name": name,
                "address": {"use": "work", "postalCode": postcode, "country": "GB"},
                "managingOrganization": {"reference": f"Organization/{org}"},
            }
        )
        return id_

    def staff_role(self, kind: str, org: str, location: str | None = None) -> str:
        self.staff += 1
        number = self.staff
        sex = self.rng.choice(("female", "male"))
        self.resources.append(
            {
                "resourceType": "Practitioner",
                "id": f"prac-{number}",
                "active": True,
                "name": [
                    {**human_name(self.rng, sex), "prefix": ["Dr"]}
                    if kind == "gp"
                    else human_name(self.rng, sex)
                ],
                "gender": sex,
            }
        )
        code = v.concept(v.STAFF_ROLE, kind, STAFF_DISPLAY[kind])
        if kind in STAFF_SNOMED:
            code["coding"].append(v.coding(v.SNOMED, *STAFF_SNOMED[kind]))
        role: dict[str, Any] = {
            "resourceType": "PractitionerRole",
            "id": f"role-{number}",
            "active": True,
            "practitioner": {"reference": f"Practitioner/prac-{number}"},
            "organization": {"reference": f"Organization/{org}"},
            "code": [code],
        }
        if location is not None:
            role["location"] = [{"reference": f"Location/{location}"}]
        self.resources.append(role)
        return f"role-{number}"

    def team(self, kind: str, count: int, org: str, location: str | None = None) -> tuple[str, ...]:
        return tuple(self.staff_role(kind, org, location) for _ in range(max(1, count)))

    def affiliation(self, board: str, member: str) -> None:
        self.resources.append(
            {
                "resourceType": "OrganizationAffiliation",
                "id": f"board-{board}-{member}",
                "active": True,
                "organization": {"reference": f"Organization/{board}"},
                "participatingOrganization": {"reference": f"Organization/{member}"},
                "code": [v.concept(v.STAFF_ROLE, "board-member", STAFF_DISPLAY["board-member"])],
            }
        )


def postcode(area: str, district: int, serial: int) -> str:
    """A well-formed postcode in the ``QJ`` area, which does not exist (no area starts with Q)."""
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    inward = f"{serial % 10}{letters[(serial // 10) % 20]}{letters[(serial // 200) % 20]}"
    return f"{area}{district} {inward}"


def build_directory(plan: StructurePlan, areas: list[PlaceArea], seed: int) -> Directory:
    b = _Builder(seed)
    rng = b.rng
    directory = Directory()
    icb = b.organisation(
        "org-icb", "QZZ", "NHS Joined Up Integrated Care Board", "icb", None, "govt"
    )
    directory.community_trust = b.organisation(
        "org-community",
        "RYZ",
        "Joined Up Community Health NHS Trust",
        "community-trust",
        None,
        "prov",
    )
    directory.rehab_service = b.organisation(
        "org-rehab",
        "RYZ01",
        "Community Rehabilitation Service",
        "community-rehab-service",
        directory.community_trust,
        "dept",
    )
    directory.mental_health_trust = b.organisation(
        "org-mental-health",
        "RXZ",
        "Joined Up Mental Health NHS Foundation Trust",
        "mental-health-trust",
        None,
        "prov",
    )
    directory.psychiatrists = b.team("psychiatrist", 2, directory.mental_health_trust)

    practices_by_place: dict[int, list[str]] = {}
    for place, area in zip(plan.places, areas, strict=True):
        n = place.index + 1
        district = f"QJ{n}"
        place_org = b.organisation(
            f"org-place-{n}", f"Z{n:02d}", f"{area.name} Place Partnership", "place", icb, "govt"
        )
        council = b.organisation(
            f"org-council-{n}", f"9{n:02d}", f"{area.name} Council", "local-authority", None, "govt"
        )
        b.resources[-1]["identifier"].append({"system": v.LA_DISTRICT, "value": area.la_code})
        asc = b.organisation(
            f"org-asc-{n}",
            f"9{n:02d}ASC",
            f"{area.name} Adult Social Care",
            "adult-social-care",
            council,
            "dept",
        )
        acute = b.organisation(
            f"org-acute-{n}",
            f"R{n:02d}",
            f"{area.name} Hospitals NHS Trust",
            "acute-trust",
            None,
            "prov",
        )
        hospital = b.location(
            f"loc-hospital-{n}",
            f"R{n:02d}01",
            f"{area.name} General Hospital",
            acute,
            postcode(district, 9, n),
        )
        rehab_location = b.location(
            f"loc-rehab-{n}",
            f"RYZ01{n:02d}",
            f"{area.name} Community Rehabilitation Team",
            directory.rehab_service,
            postcode(district, 8, n),
        )
        over_65 = place.population * 0.19
        homes = []
        for h in range(max(2, min(12, round(over_65 / 2_000)))):
            home = b.organisation(
                f"org-carehome-{n}-{h + 1}",
                f"VZ{n:02d}{h + 1}",
                f"{b.rng.choice(HOME_NAMES)} House Care Home ({area.name} {h + 1})",
                "care-home",
                None,
                "prov",
            )
            b.location(
                f"loc-carehome-{n}-{h + 1}",
                f"VZ{n:02d}{h + 1}",
                "Care home",
                home,
                postcode(district, 7, h),
            )
            b.staff_role("care-worker", home)
            homes.append(home)
        services = PlaceServices(
            org=place_org,
            acute=acute,
            hospital_doctors=b.team("hospital-doctor", 3, acute, hospital),
            ward_therapists=b.team("physiotherapist", 2, acute, hospital)
            + b.team("occupational-therapist", 2, acute, hospital),
            asc=asc,
            social_workers=b.team("social-worker", 3, asc),
            care_workers=b.team("care-worker", 4, asc),
            care_homes=tuple(homes),
            rehab_location=rehab_location,
            rehab_staff=b.team("physiotherapist", 3, directory.rehab_service, rehab_location)
            + b.team("occupational-therapist", 2, directory.rehab_service, rehab_location)
            + b.team("community-nurse", 2, directory.community_trust, rehab_location),
            median_rehab_wait_days=rng.uniform(10, 40),
            rehab_prescription_rate=rng.uniform(0.35, 0.85),
            reablement_success=rng.uniform(0.72, 0.9),
            hypertension_control=rng.uniform(0.55, 0.75),
            flu_uptake=rng.uniform(0.65, 0.85),
            smi_check_rate=rng.uniform(0.4, 0.75),
            care_plan_rate=rng.uniform(0.1, 0.4),
        )
        directory.places.append(services)
        practices_by_place[place.index] = []
        pcn_orgs: list[str] = []
        for pcn_index in place.pcns:
            pcn = plan.pcns[pcn_index]
            pcn_org = b.organisation(
                f"org-pcn-{pcn.index + 1}",
                f"U9{pcn.index + 1:04d}",
                f"{area.name} PCN {len(pcn_orgs) + 1}",
                "pcn",
                place_org,
                "team",
            )
            pcn_orgs.append(pcn_org)
            fcps = b.team("first-contact-practitioner", round(pcn.list_size / 15_000), pcn_org)
            b.staff_role("clinical-pharmacist", pcn_org)
            b.staff_role("social-prescriber", pcn_org)
            fcp_share = rng.uniform(0.15, 0.6)
            for practice_index in pcn.practices:
                practice = plan.practices[practice_index]
                code = f"Z{10001 + practice.index}"
                org = b.organisation(
                    f"org-practice-{practice.index + 1}",
                    code,
                    f"{area.name} Medical Practice {practice.index + 1}",
                    "gp-practice",
                    pcn_org,
                    "prov",
                )
                site = b.location(
                    f"loc-practice-{practice.index + 1}",
                    code,
                    "Surgery",
                    org,
                    postcode(district, 1 + practice.index % 6, practice.index),
                )
                directory.practices.append(
                    PracticeServices(
                        org=org,
                        place=place.index,
                        gps=b.team("gp", round(practice.list_size / 2_200), org, site),
                        nurses=b.team(
                            "practice-nurse", round(practice.list_size / 4_000), org, site
                        ),
                        fcps=fcps,
                        fcp_share=fcp_share,
                    )
                )
        # The Place board: member organisations and the one accountable person.
        b.staff_role("place-accountable-person", place_org)
        for member in (
            acute,
            directory.community_trust,
            council,
            directory.mental_health_trust,
            *pcn_orgs,
        ):
            b.affiliation(place_org, member)
        b.staff_role("board-member", place_org)
        b.staff_role("pcn-clinical-director", pcn_orgs[0])
    directory.resources = b.resources
    return directory
