"""Who is accountable at each Place, who sits on its board, and what the area names are —
read from the record's directory (Organization, OrganizationAffiliation, PractitionerRole)."""

from __future__ import annotations

from typing import Any

import duckdb

from joinedup.measures.definitions import MeasureDefinition

_NAMES = "SELECT org_id, name FROM organisations WHERE role IN ('place', 'pcn', 'gp-practice')"
_PLACES = "SELECT org_id, name, ods_code FROM organisations WHERE role = 'place' ORDER BY org_id"
_ACCOUNTABLE = """
    SELECT trim(concat_ws(' ', p.prefix, p.given, p.family))
    FROM practitioner_roles AS r JOIN practitioners AS p USING (practitioner_id)
    WHERE r.org_id = ? AND r.role = 'place-accountable-person' ORDER BY r.role_id LIMIT 1
"""
_MEMBERS = """
    SELECT o.org_id, o.name, o.role FROM organisation_affiliations AS a
    JOIN organisations AS o ON o.org_id = a.member_org_id
    WHERE a.board_org_id = ? ORDER BY o.name
"""
_PEOPLE = """
    SELECT trim(concat_ws(' ', p.prefix, p.given, p.family)), r.role
    FROM practitioner_roles AS r JOIN practitioners AS p USING (practitioner_id)
    WHERE r.org_id = ? ORDER BY r.role_id
"""
#: Every query this module runs over the standard tables.
READS = (_NAMES, _PLACES, _ACCOUNTABLE, _MEMBERS, _PEOPLE)


def group_names(connection: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Organisation id -> name for the Places, PCNs and practices."""
    rows = connection.execute(_NAMES).fetchall()
    return {org_id: name for org_id, name in rows}


def places(
    connection: duckdb.DuckDBPyConnection, measures: list[MeasureDefinition]
) -> list[dict[str, Any]]:
    result = []
    for place_id, name, ods in connection.execute(_PLACES).fetchall():
        accountable = connection.execute(_ACCOUNTABLE, [place_id]).fetchall()
        members = connection.execute(_MEMBERS, [place_id]).fetchall()
        people = connection.execute(_PEOPLE, [place_id]).fetchall()
        chosen = [m.id for m in measures if m.priority == "national" or m.place == place_id]
        result.append(
            {
                "place_id": place_id,
                "name": name,
                "ods_code": ods,
                "accountable_person": _person(accountable[0][0]) if accountable else None,
                "board_organisations": [{"org_id": o, "name": n, "role": r} for o, n, r in members],
                "board_people": [{"name": _person(n), "role": r} for n, r in people],
                "measures": chosen,
            }
        )
    return result


#: De-identified snapshots drop practitioners' names with every other person's (see
#: ``joinedup.export.deidentify``); the role is still known to be held.
WITHHELD = "named in the record (withheld from de-identified data)"


def _person(name: str | None) -> str:
    return name or WITHHELD
