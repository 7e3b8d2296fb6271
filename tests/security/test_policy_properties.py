"""Property: no response to any generated query contains, counts or reveals a denied resource.

Queries mix paging, totals, ``_summary=count``, ``_include``/``_revinclude``, chaining, ``_has``,
sorting and filters, for every persona, on SQLite and PostgreSQL. For queries whose meaning
does not depend on other resources (no chain, no ``_has``) the restricted answer must equal
the unrestricted answer cut down to what the persona may see; for the rest it must be a subset.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from access_world import GP_A, PERSONAS, VISIBLE, entries, restriction, world_on
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joinedup.store import NotFound, parse_search
from joinedup.store.base import Restriction, Store

ALL = {resource["id"]: resource["resourceType"] for resource, _ in entries()}
PATIENTS = sorted(i for i, t in ALL.items() if t == "Patient")

COMMON = [
    ("_total", "accurate"),
    ("_sort", "_lastUpdated"),
    ("_sort", "-_id"),
    ("_lastUpdated", "gt2000-01-01"),
]
BY_TYPE: dict[str, list[tuple[str, str]]] = {
    "Patient": [
        ("_revinclude", "Observation:subject"),
        ("_revinclude", "Encounter:subject"),
        ("_revinclude", "Consent:patient"),
        ("general-practitioner", f"Organization/{GP_A}"),
        ("_has:Observation:subject:status", "final"),
    ]
    + [("_id", p) for p in PATIENTS],
    "Observation": [
        ("_include", "Observation:subject"),
        ("status", "final"),
        ("subject:Patient.general-practitioner", f"Organization/{GP_A}"),
    ]
    + [("subject", f"Patient/{p}") for p in PATIENTS],
    "Encounter": [("_include", "Encounter:subject"), ("status", "in-progress,finished")]
    + [("subject", f"Patient/{p}") for p in PATIENTS],
    "Organization": [("_revinclude", "Organization:partof"), ("_include", "Organization:partof")],
}
RELATIONAL = ("_has", ":Patient.")


@st.composite
def queries(draw: st.DrawFn) -> tuple[str, str, list[tuple[str, str]]]:
    persona = draw(st.sampled_from(sorted(PERSONAS)))
    rtype = draw(st.sampled_from(sorted(BY_TYPE)))
    params = draw(st.lists(st.sampled_from(COMMON + BY_TYPE[rtype]), max_size=3, unique=True))
    params.append(("_count", str(draw(st.integers(1, 4)))))
    if draw(st.booleans()):
        params.append(("_summary", "count"))
    return persona, rtype, params


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    with world_on(request.param, request, tmp_path_factory, "props") as opened:
        yield opened


def all_pages(
    store: Store, rtype: str, params: list[tuple[str, str]], rule: Restriction | None
) -> tuple[list[str], set[str], int | None]:
    page = store.search(parse_search(rtype, params), restriction=rule)
    matches = [r.id for r in page.matches]
    included = {r.id for r in page.included}
    total = page.total
    while page.next_cursor:
        page = store.search(
            parse_search(rtype, [*params, ("_cursor", page.next_cursor)]), restriction=rule
        )
        matches += [r.id for r in page.matches]
        included |= {r.id for r in page.included}
    return matches, included, total


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=queries())
def test_no_search_reveals_a_denied_resource(
    store: Store, query: tuple[str, str, list[tuple[str, str]]]
) -> None:
    persona, rtype, params = query
    rule = restriction(store, persona)
    visible = VISIBLE[persona]
    matches, included, total = all_pages(store, rtype, params, rule)
    assert set(matches) <= visible
    assert included <= visible
    assert len(matches) == len(set(matches)), "a resource appeared on two pages"
    if total is not None and ("_summary", "count") not in params:
        assert total == len(matches)
    if not any(name.startswith(RELATIONAL) or RELATIONAL[1] in name for name, _ in params):
        listing = [p for p in params if p != ("_summary", "count")]
        everyone = set(all_pages(store, rtype, listing, None)[0])
        if ("_summary", "count") not in params:
            assert set(matches) == everyone & visible
        if total is not None:
            assert total == len(everyone & visible)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    persona=st.sampled_from(sorted(PERSONAS)),
    pid=st.sampled_from(PATIENTS),
    count=st.integers(1, 3),
    types=st.sampled_from([None, ["Observation"], ["Encounter", "Consent"]]),
)
def test_no_everything_page_reveals_a_denied_resource(
    store: Store, persona: str, pid: str, count: int, types: list[str] | None
) -> None:
    rule = restriction(store, persona)
    try:
        page = store.everything(pid, types=types, count=count, restriction=rule)
    except NotFound:
        assert pid not in VISIBLE[persona]
        return
    seen = {r.id for r in page.matches} | {r.id for r in page.included}
    total = page.total
    while page.next_cursor:
        page = store.everything(
            pid, types=types, count=count, cursor=page.next_cursor, restriction=rule
        )
        seen |= {r.id for r in page.matches} | {r.id for r in page.included}
    assert seen <= VISIBLE[persona]
    assert total is None or total <= len(VISIBLE[persona])
