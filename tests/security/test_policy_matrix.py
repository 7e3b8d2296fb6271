"""The policy matrix: roles × relationships × consent choices × resource types × operations.

Each cell asserts allow or deny against the real store (SQLite and PostgreSQL) through the
restriction hook. What each persona may see is written out by hand in ``access_world.VISIBLE``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from access_world import (
    GP_A,
    HOSP,
    NOW,
    PERSONAS,
    VISIBLE,
    entries,
    restriction,
    world_on,
)

from joinedup.access import breakglass
from joinedup.access.middleware import acting_as
from joinedup.access.policy import OrgDirectory
from joinedup.fhir.outcome import FHIRError
from joinedup.store import NotFound, parse_search
from joinedup.store.base import Store, WideRestriction

ALL = {resource["id"]: resource["resourceType"] for resource, _ in entries()}
TYPES = sorted(set(ALL.values()))
PATIENTS = sorted(i for i, t in ALL.items() if t == "Patient")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    with world_on(request.param, request, tmp_path_factory, "matrix") as opened:
        yield opened


@pytest.fixture(scope="module")
def write_store(
    store: Store, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """A world of its own for the write cells, so the read cells never see their writes."""
    with world_on(store.dialect, request, tmp_path_factory, "writes") as opened:
        yield opened


def ids(resources: list[Any]) -> set[str]:
    return {r.id for r in resources}


@pytest.mark.parametrize("persona", sorted(PERSONAS))
@pytest.mark.parametrize("operation", ["read", "vread", "history"])
def test_instance_reads(store: Store, persona: str, operation: str) -> None:
    """Every resource × this persona: visible exactly when the table says so."""
    rule = restriction(store, persona)
    for rid, rtype in ALL.items():
        allowed = rid in VISIBLE[persona]
        try:
            if operation == "read":
                seen = store.read(rtype, rid, restriction=rule).id == rid
            elif operation == "vread":
                seen = store.vread(rtype, rid, 1, restriction=rule).id == rid
            else:
                seen = bool(store.history(rtype, rid, restriction=rule).entries)
        except NotFound:
            seen = False
        assert seen == allowed, f"{persona} {operation} {rtype}/{rid}: expected allowed={allowed}"


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_search_matches_totals_and_counts(store: Store, persona: str) -> None:
    rule = restriction(store, persona)
    for rtype in TYPES:
        expected = {i for i in VISIBLE[persona] if ALL[i] == rtype}
        page = store.search(
            parse_search(rtype, [("_count", "3"), ("_total", "accurate")]), restriction=rule
        )
        found = ids(page.matches)
        cursor = page.next_cursor
        while cursor:
            query = parse_search(rtype, [("_count", "3"), ("_cursor", cursor)])
            page_n = store.search(query, restriction=rule)
            found |= ids(page_n.matches)
            cursor = page_n.next_cursor
        assert found == expected, f"{persona} search {rtype}"
        assert page.total == len(expected), f"{persona} total {rtype}"
        counted = store.search(parse_search(rtype, [("_summary", "count")]), restriction=rule)
        assert counted.total == len(expected) and not counted.matches


class OneShape:
    """One of the policy's two forms of the restriction, offered as its only form."""

    def __init__(self, rule: WideRestriction, *, wide: bool) -> None:
        self.form = rule.wide_sql if wide else rule.sql

    def sql(self, dialect: str, alias: str) -> tuple[str, list[Any]]:
        return self.form(dialect, alias)


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_set_shape_allows_exactly_the_row_by_row_rows(store: Store, persona: str) -> None:
    """The set-shaped form (for searches across a whole type) and the row-by-row form (for
    everything else) must allow exactly the table's rows, type by type."""
    rule = restriction(store, persona)
    assert isinstance(rule, WideRestriction)
    for rtype in TYPES:
        expected = {i for i in VISIBLE[persona] if ALL[i] == rtype}
        query = parse_search(rtype, [("_count", "100"), ("_total", "accurate")])
        for wide in (True, False):
            page = store.search(query, restriction=OneShape(rule, wide=wide))
            assert ids(page.matches) == expected, f"{persona} {rtype} wide={wide}"
            assert page.total == len(expected), f"{persona} total {rtype} wide={wide}"


@pytest.mark.parametrize("persona", ["hospital", "community_physio"])
def test_set_shape_follows_break_glass(store: Store, persona: str) -> None:
    """A live break-glass grant widens both forms of the restriction alike, whichever person
    it names (the set-shaped form reads the granted people as its own set)."""
    principal = PERSONAS[persona]
    rule = restriction(store, persona)
    assert isinstance(rule, WideRestriction)
    widened = False
    for patient in PATIENTS:
        grant = breakglass.grant(
            store, principal, patient, "unconscious in ED, needs history", minutes=30, now=NOW
        )
        try:
            for rtype in TYPES:
                query = parse_search(rtype, [("_count", "100"), ("_total", "accurate")])
                wide, by_row = (
                    ids(store.search(query, restriction=OneShape(rule, wide=w)).matches)
                    for w in (True, False)
                )
                assert wide == by_row, f"{persona} break-glass {patient} {rtype}"
                widened |= bool(by_row - VISIBLE[persona])
        finally:
            with store.transaction() as tx:
                tx.execute("DELETE FROM access_breakglass WHERE grant_id = ?", [grant.grant_id])
    assert widened, f"no grant showed {persona} anything more"


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_includes_revincludes_and_history(store: Store, persona: str) -> None:
    rule = restriction(store, persona)
    page = store.search(
        parse_search(
            "Patient",
            [("_revinclude", "Observation:subject"), ("_revinclude", "Encounter:subject")],
        ),
        restriction=rule,
    )
    assert ids(page.matches) | ids(page.included) <= VISIBLE[persona]
    expected_rev = {
        i
        for i in VISIBLE[persona]
        if ALL[i] in ("Observation", "Encounter") and i.split("-")[0] in ids(page.matches)
    }
    assert ids(page.included) == expected_rev
    obs = store.search(
        parse_search("Observation", [("_include", "Observation:subject")]), restriction=rule
    )
    assert ids(obs.included) <= VISIBLE[persona]
    history = store.history(restriction=rule, count=1000)
    assert {e.id for e in history.entries} == VISIBLE[persona]
    for rtype in ("Observation", "Patient"):
        typed = store.history(rtype, restriction=rule, count=1000)
        assert {e.id for e in typed.entries} == {i for i in VISIBLE[persona] if ALL[i] == rtype}


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_everything(store: Store, persona: str) -> None:
    rule = restriction(store, persona)
    for pid in PATIENTS:
        try:
            page = store.everything(pid, restriction=rule, count=1000)
        except NotFound:
            assert pid not in VISIBLE[persona], f"{persona} $everything {pid}"
            continue
        assert pid in VISIBLE[persona]
        found = ids(page.matches) | ids(page.included)
        assert found <= VISIBLE[persona]
        assert page.total == len(page.matches)


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_chaining_and_has_never_reveal(store: Store, persona: str) -> None:
    rule = restriction(store, persona)
    # Observations whose subject is registered at GP A: only visible ones may come back.
    chained = store.search(
        parse_search(
            "Observation", [("subject:Patient.general-practitioner", f"Organization/{GP_A}")]
        ),
        restriction=rule,
    )
    assert ids(chained.matches) <= VISIBLE[persona]
    # Patients that have an Observation: a Patient whose only Observations are hidden must
    # not be found through _has.
    has = store.search(
        parse_search("Patient", [("_has:Observation:subject:status", "final")]), restriction=rule
    )
    visible_obs_subjects = {i.split("-")[0] for i in VISIBLE[persona] if ALL[i] == "Observation"}
    assert ids(has.matches) == {
        p for p in PATIENTS if p in VISIBLE[persona] and p in visible_obs_subjects
    }


# --- writes ------------------------------------------------------------------------------------


def observation_for(pid: str, oid: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"text": "weight"},
        "subject": {"reference": f"Patient/{pid}"},
    }


WRITE_CELLS = [
    # persona, action, target, source_org the write claims, allowed
    ("gp_a", "create", "Observation", GP_A, True),
    ("gp_a", "create", "Observation", HOSP, False),  # writing as another organisation
    ("gp_a", "update", "reg-gp", GP_A, True),  # its own entry
    ("gp_a", "update", "reg-hosp", GP_A, False),  # the hospital's entry
    ("gp_a", "delete", "reg-hosp", None, False),
    ("gp_a", "delete", "reg-gp", None, True),
    ("gp_a", "create", "Organization", GP_A, False),  # directory: admins only
    ("gp_a_obs_only", "create", "Observation", GP_A, False),  # scope has no "c"
    ("hospital", "update", "reg-hosp", HOSP, True),
    ("analyst", "create", "Observation", "U00001", False),
    ("place_leader", "create", "Observation", "U00001", False),
    ("admin", "create", "Observation", "U00001", False),
    ("admin", "create", "Organization", "U00001", True),
    ("citizen_reg", "create", "Observation", None, False),
    ("citizen_reg", "consent-self", "Consent", None, True),
    ("citizen_reg", "consent-other", "Consent", None, False),
]


@pytest.mark.parametrize(("persona", "action", "target", "org", "allowed"), WRITE_CELLS)
def test_write_rules(
    write_store: Store, persona: str, action: str, target: str, org: str | None, allowed: bool
) -> None:
    store = write_store
    principal = PERSONAS[persona]
    keys = OrgDirectory(store).keys(principal.org)
    before = store.history(restriction=None, count=10000).entries

    def attempt() -> None:
        if action == "create" and target == "Observation":
            store.update(
                observation_for("reg", f"new-{persona}-{org}".replace("_", "-")), source_org=org
            )
        elif action == "create":
            store.update(
                {"resourceType": "Organization", "id": f"new-org-{persona}".replace("_", "-")},
                source_org=org,
            )
        elif action == "update":
            current = store.read(ALL[target], target).resource
            assert current is not None
            store.update(current | {"status": "amended"}, source_org=org)
        elif action == "delete":
            store.delete(ALL[target], target)
        else:
            pid = "reg" if action == "consent-self" else "other"
            store.update(
                {
                    "resourceType": "Consent",
                    "id": f"new-consent-{pid}",
                    "status": "active",
                    "scope": {"text": "privacy"},
                    "category": [{"text": "sharing"}],
                    "patient": {"reference": f"Patient/{pid}"},
                    "provision": {"type": "permit"},
                },
                source_org=org,
            )

    with acting_as(principal, keys):
        if allowed:
            attempt()
        else:
            with pytest.raises(FHIRError) as refused:
                attempt()
            assert refused.value.status == 403
            after = store.history(restriction=None, count=10000).entries
            assert len(after) == len(before), "a refused write must leave nothing behind"
