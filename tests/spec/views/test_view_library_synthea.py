"""The standard view library on real Synthea data: the 100 Synthea R4 bundles loaded into a
record, snapshotted, and every standard view and derived table built over the snapshot.

Every expectation is counted here, independently, from the bundle files. The loader gives
resources new ids (transaction POSTs), so rows are compared as multisets of their values.
Synthea is US data in US codings: no UK Core ethnicity, LSOA, IMD, registered practice, ICS
code systems or NHS discharge destinations, so those columns are null (asserted below).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from joinedup.export.snapshot import write_snapshot
from joinedup.export.sources import StoreSource
from joinedup.record.load import Loader, source_files
from joinedup.store import open_store
from joinedup.views.library import DERIVED_TABLES, VIEW_NAMES, register_standard_tables
from joinedup.views.sources import Source

pytestmark = pytest.mark.slow

SNOMED = "http://snomed.info/sct"
BP_PANELS = {("http://loinc.org", "85354-9"), ("http://loinc.org", "55284-4")}

Bundles = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def bundles(reference_dir: Path) -> Bundles:
    """Every resource in the bundle files, by type (read straight from the files)."""
    found: Bundles = {}
    for path in sorted((reference_dir / "synthea-r4").glob("*.json")):
        for entry in json.loads(path.read_text("utf-8"))["entry"]:
            resource = entry["resource"]
            found.setdefault(resource["resourceType"], []).append(resource)
    return found


@pytest.fixture(scope="module")
def tables(
    reference_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Synthea loaded into a record, snapshotted (NDJSON; identifiable is fine for synthetic
    people), and the standard tables built over the snapshot."""
    root = tmp_path_factory.mktemp("synthea-views")
    store = open_store(f"sqlite:///{root / 'record.db'}")
    try:
        summary = Loader(store).load(source_files([reference_dir / "synthea-r4"]))
        assert summary.problems == []
        write_snapshot(
            StoreSource(store), root / "snapshot", format="ndjson", deidentification=None
        )
    finally:
        store.close()
    connection = duckdb.connect()
    register_standard_tables(connection, Source.open(root / "snapshot"))
    yield connection
    connection.close()


def rows(connection: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return connection.execute(sql).fetchall()


def count(connection: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(rows(connection, f'SELECT count(*) FROM "{table}"')[0][0])


def first_code(concept: dict[str, Any] | None) -> tuple[str | None, str | None]:
    coding = ((concept or {}).get("coding") or [{}])[0]
    return coding.get("system"), coding.get("code")


def codes(concept: dict[str, Any] | None) -> set[tuple[str | None, str | None]]:
    return {(c.get("system"), c.get("code")) for c in (concept or {}).get("coding") or []}


def final_observations(bundles: Bundles) -> list[dict[str, Any]]:
    return [o for o in bundles["Observation"] if o.get("status") == "final"]


def day(value: str) -> date:
    return date.fromisoformat(value[:10])


def test_every_view_yields_what_the_bundles_hold(
    tables: duckdb.DuckDBPyConnection, bundles: Bundles
) -> None:
    def of(resource_type: str) -> int:
        return len(bundles.get(resource_type, []))

    expected = {
        "patients": of("Patient"),
        "encounters": of("Encounter"),
        "observations": len(final_observations(bundles)),
        "blood_pressures": sum(
            bool(BP_PANELS & codes(o["code"])) for o in final_observations(bundles)
        ),
        "condition_records": of("Condition"),
        "immunisations": of("Immunization"),
        "care_plans": of("CarePlan"),
        "organisations": of("Organization"),
        "practitioners": of("Practitioner"),
        "practitioner_roles": of("PractitionerRole"),
        "organisation_affiliations": of("OrganizationAffiliation"),
        "consents": of("Consent"),
        "episodes": of("EpisodeOfCare"),
        "referrals": of("ServiceRequest"),
    }
    assert set(expected) == set(VIEW_NAMES), "add the new view's expectation here"
    assert {name: count(tables, name) for name in VIEW_NAMES} == expected
    # What Synthea has and has not (documented in docs/view-library.md).
    assert expected["patients"] == 100 and expected["encounters"] == 2554
    assert expected["blood_pressures"] > 0 and expected["condition_records"] == 709
    # Every panel's components are read (LOINC 8480-6 systolic, 8462-4 diastolic).
    assert rows(
        tables,
        "SELECT count(*) - count(systolic), count(*) - count(diastolic) FROM blood_pressures",
    ) == [(0, 0)]


def test_person_has_every_patient_with_sex_and_age_band(
    tables: duckdb.DuckDBPyConnection, bundles: Bundles
) -> None:
    patients = bundles["Patient"]
    last_activity = max(day(e["period"]["start"]) for e in bundles["Encounter"])

    def band(patient: dict[str, Any]) -> str:
        """Age band at the last activity, or at death for those who died before it."""
        birth = date.fromisoformat(patient["birthDate"])
        died = patient.get("deceasedDateTime")
        on = min(last_activity, day(died)) if died else last_activity
        age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
        return "90+" if age >= 90 else f"{age // 5 * 5}-{age // 5 * 5 + 4}"

    assert Counter(dict(rows(tables, "SELECT sex, count(*) FROM person GROUP BY 1"))) == Counter(
        p["gender"] for p in patients
    )
    assert Counter(dict(rows(tables, "SELECT age_band, count(*) FROM person GROUP BY 1"))) == (
        Counter(band(p) for p in patients)
    )
    assert count(tables, "person") == len(patients)
    deaths = sorted(day(p["deceasedDateTime"]) for p in patients if "deceasedDateTime" in p)
    assert (
        sorted(r[0] for r in rows(tables, "SELECT death_date FROM person") if r[0] is not None)
        == deaths
    )
    # US data: no UK Core ethnicity, LSOA, IMD or registered practice.
    assert rows(
        tables,
        "SELECT count(ethnicity), count(lsoa), count(imd_decile), count(imd_quintile),"
        " count(practice_id), count(pcn_id), count(place_id), min(ethnic_group),"
        " max(ethnic_group) FROM person",
    ) == [(0, 0, 0, 0, 0, 0, 0, "Not stated", "Not stated")]


def test_encounters_and_admissions_keep_class_and_dates(
    tables: duckdb.DuckDBPyConnection, bundles: Bundles
) -> None:
    encounters = bundles["Encounter"]
    assert Counter(rows(tables, "SELECT class, start_date, end_date FROM encounters")) == Counter(
        (e["class"]["code"], day(e["period"]["start"]), day(e["period"]["end"])) for e in encounters
    )
    inpatient = [e for e in encounters if e["class"]["code"] == "IMP"]
    assert Counter(r[0] for r in rows(tables, "SELECT length_of_stay FROM admissions")) == Counter(
        (day(e["period"]["end"]) - day(e["period"]["start"])).days for e in inpatient
    )
    assert Counter(r[0] for r in rows(tables, "SELECT reason_code FROM admissions")) == Counter(
        first_code((e.get("reasonCode") or [None])[0])[1] for e in inpatient
    )
    # Synthea's discharge dispositions are US codes, carried as they are.
    assert Counter(
        r[0] for r in rows(tables, "SELECT discharge_destination FROM encounters") if r[0]
    ) == Counter(
        first_code(e["hospitalization"].get("dischargeDisposition"))[1]
        for e in encounters
        if "dischargeDisposition" in e.get("hospitalization", {})
    )
    # No ICS encounter types or priorities in Synthea.
    assert rows(tables, "SELECT count(kind), count(priority) FROM encounters") == [(0, 0)]


def test_observations_and_the_latest_per_code(
    tables: duckdb.DuckDBPyConnection, bundles: Bundles
) -> None:
    final = final_observations(bundles)
    assert Counter(rows(tables, "SELECT code_system, code FROM observations")) == Counter(
        first_code(o["code"]) for o in final
    )
    quantities = sorted(float(o["valueQuantity"]["value"]) for o in final if "valueQuantity" in o)
    assert sorted(
        float(r[0])
        for r in rows(tables, "SELECT value_quantity FROM observations")
        if r[0] is not None
    ) == pytest.approx(quantities)
    latest: dict[tuple[str, str | None, str | None], date] = {}
    for o in final:
        key = (o["subject"]["reference"], *first_code(o["code"]))
        when = day(o["effectiveDateTime"])
        latest[key] = max(latest.get(key, when), when)
    assert Counter(
        rows(tables, "SELECT code_system, code, effective_date FROM observations_latest")
    ) == Counter((system, code, when) for (_, system, code), when in latest.items())


def test_snomed_coded_conditions_reach_their_long_term_condition_group(
    tables: duckdb.DuckDBPyConnection, bundles: Bundles
) -> None:
    """Synthea codes conditions in SNOMED CT alone, as GP systems do; the package's code list
    (``ltc_codes.csv``) gives them their long-term-condition group."""
    code_list = {snomed: ltc for snomed, ltc in rows(tables, "SELECT snomed, ltc FROM ltc_codes")}
    active = {"active", "recurrence", "relapse"}
    expected = {
        (c["subject"]["reference"], code_list[code])
        for c in bundles["Condition"]
        for system, code in [first_code(c["code"])]
        if system == SNOMED
        and code in code_list
        and first_code(c.get("clinicalStatus"))[1] in active | {None}
    }
    found = rows(tables, "SELECT ltc, count(*) FROM conditions GROUP BY 1")
    assert Counter(dict(found)) == Counter(ltc for _, ltc in expected)
    assert {"hypertension", "diabetes"} <= {ltc for ltc, _ in found}


def test_other_views_carry_their_values(
    tables: duckdb.DuckDBPyConnection, bundles: Bundles
) -> None:
    assert Counter(r[0] for r in rows(tables, "SELECT vaccine_code FROM immunisations")) == (
        Counter(first_code(i["vaccineCode"])[1] for i in bundles["Immunization"])
    )
    assert Counter(r[0] for r in rows(tables, "SELECT status FROM care_plans")) == Counter(
        c["status"] for c in bundles["CarePlan"]
    )
    assert Counter(r[0] for r in rows(tables, "SELECT name FROM organisations")) == Counter(
        o["name"] for o in bundles["Organization"]
    )
    assert Counter(r[0] for r in rows(tables, "SELECT family FROM practitioners")) == Counter(
        p["name"][0]["family"] for p in bundles["Practitioner"]
    )
    # No ICS organisation roles, so no practice hierarchy.
    assert count(tables, "practices") == 0
    assert set(DERIVED_TABLES) == {
        "practices",
        "person",
        "conditions",
        "admissions",
        "observations_latest",
    }
