"""Token ``:in``/``:not-in``: the codes of a ValueSet stored in the record (R4 search.html#token).

A ValueSet is found by its canonical url (``url`` or ``url|version``; the latest version when
none is given) or by a literal ``ValueSet/id``, and expanded here without a terminology
server: a stored ``expansion.contains``, or ``compose.include``/``exclude`` made of explicit
``concept`` lists, whole code systems and other stored ValueSets. A ValueSet that needs more
(``filter``s, intersections) is refused with a 400 saying so, never answered partly.

ValueSets are read without the caller's access restriction: they describe codes, not people,
and only decide which index rows match; their content never reaches the response.
"""

# ruff: noqa: S608 — fixed SQL; every value a caller supplies travels as a bound parameter.

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from joinedup.fhir.outcome import FHIRError
from joinedup.store.database import Database

Fragment = tuple[str, list[Any]]


@dataclass(frozen=True, slots=True)
class Expansion:
    """``codes``: ``(system, code)`` pairs (system None: any system); ``systems``: whole code
    systems, minus the ``(system, code)`` pairs in ``excluded``."""

    codes: frozenset[tuple[str | None, str]] = frozenset()
    systems: frozenset[str] = frozenset()
    excluded: frozenset[tuple[str, str]] = frozenset()

    def has(self, system: str | None, code: str) -> bool:
        if (system, code) in self.codes or (None, code) in self.codes:
            return True
        return system in self.systems and (system, code) not in self.excluded

    def union(self, other: Expansion) -> Expansion:
        return Expansion(
            self.codes | other.codes,
            self.systems | other.systems,
            frozenset(
                (system, code)
                for system, code in self.excluded | other.excluded
                if not self.has(system, code) and not other.has(system, code)
            ),
        )

    def without(self, other: Expansion) -> Expansion:
        systems = self.systems - other.systems
        dropped = {
            (system, code)
            for system in systems
            for listed, code in other.codes
            if listed in (None, system)
        }
        return Expansion(
            frozenset(pair for pair in self.codes if not other.has(*pair)),
            systems,
            frozenset({pair for pair in self.excluded if pair[0] in systems} | dropped),
        )


def _unsupported(reference: str, why: str) -> FHIRError:
    return FHIRError(
        f"ValueSet {reference} cannot be expanded without a terminology server ({why}); this "
        "server expands explicit concept lists, whole code systems and stored expansions",
        code="not-supported",
    )


def _contains(items: Any, out: set[tuple[str | None, str]]) -> None:
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            if isinstance(item.get("code"), str) and not item.get("abstract"):
                out.add((item.get("system"), item["code"]))
            _contains(item.get("contains"), out)


@dataclass
class ValueSets:
    """Expands ValueSets from one database for one search (each at most once)."""

    db: Database
    _found: dict[str, Expansion] = field(default_factory=dict)

    def expand(self, reference: str) -> Expansion:
        if reference not in self._found:
            self._found[reference] = self._expand(reference, frozenset())
        return self._found[reference]

    def _load(self, reference: str) -> dict[str, Any]:
        json = self.db.json_column("r")
        if "://" not in reference and reference.startswith("ValueSet/"):
            sql = (
                f"SELECT {json} FROM resource r WHERE r.resource_type = 'ValueSet' "
                "AND r.deleted = 0 AND r.id = ?"
            )
            params: list[Any] = [reference.removeprefix("ValueSet/")]
        else:
            url, _, version = reference.partition("|")
            sql = (
                f"SELECT {json} FROM resource r WHERE r.resource_type = 'ValueSet' "
                "AND r.deleted = 0 AND r.pk IN (SELECT u.resource_pk FROM idx_uri u "
                "WHERE u.param = 'url' AND u.value = ?)"
            )
            params = [url]
            if version:
                sql += (
                    " AND r.pk IN (SELECT v.resource_pk FROM idx_token v "
                    "WHERE v.param = 'version' AND v.code = ?)"
                )
                params.append(version)
            # Without a version, the latest written (pk breaks a tie within one load).
            sql += " ORDER BY r.last_updated DESC, r.pk DESC"
        rows = self.db.query(sql + " LIMIT 1", params)
        if not rows:
            raise FHIRError(
                f"no ValueSet {reference} is stored in the record; :in and :not-in use the "
                "record's ValueSets (store it with POST /fhir/ValueSet)",
                code="not-found",
            )
        loaded: dict[str, Any] = orjson.loads(rows[0][0])
        return loaded

    def _expand(self, reference: str, seen: frozenset[str]) -> Expansion:
        if reference in seen:
            raise _unsupported(reference, "it includes itself")
        seen = seen | {reference}
        value_set = self._load(reference)
        stored = (value_set.get("expansion") or {}).get("contains")
        if stored:
            codes: set[tuple[str | None, str]] = set()
            _contains(stored, codes)
            return Expansion(frozenset(codes))
        compose = value_set.get("compose")
        if not isinstance(compose, dict) or not compose.get("include"):
            raise _unsupported(reference, "it has neither compose.include nor an expansion")
        result = Expansion()
        for part in compose["include"]:
            result = result.union(self._part(reference, part, seen))
        for part in compose.get("exclude", []):
            result = result.without(self._part(reference, part, seen))
        return result

    def _part(self, reference: str, part: Any, seen: frozenset[str]) -> Expansion:
        if not isinstance(part, dict):
            raise _unsupported(reference, "a compose entry is not an object")
        if part.get("filter"):
            raise _unsupported(reference, "it selects codes by compose.include.filter")
        system, concepts, value_sets = part.get("system"), part.get("concept"), part.get("valueSet")
        if value_sets:
            if system or len(value_sets) > 1:
                raise _unsupported(reference, "it intersects a value set with other codes")
            return self._expand(str(value_sets[0]), seen)
        if not isinstance(system, str):
            raise _unsupported(reference, "a compose entry names no system or value set")
        if not concepts:
            return Expansion(systems=frozenset({system}))
        return Expansion(
            frozenset(
                (system, c["code"])
                for c in concepts
                if isinstance(c, dict) and isinstance(c.get("code"), str)
            )
        )


def in_predicate(x: str, expansion: Expansion) -> Fragment:
    """The predicate on ``idx_token`` row ``x`` for a coding in ``expansion``."""
    parts: list[Fragment] = []
    by_system: dict[str | None, list[str]] = {}
    for system, code in sorted(expansion.codes, key=lambda pair: (pair[0] or "", pair[1])):
        by_system.setdefault(system, []).append(code)
    for system, codes in by_system.items():
        marks = ", ".join("?" for _ in codes)
        if system is None:
            parts.append((f"{x}.code IN ({marks})", list(codes)))
        else:
            parts.append((f"{x}.system = ? AND {x}.code IN ({marks})", [system, *codes]))
    for system in sorted(expansion.systems):
        left_out = sorted(code for s, code in expansion.excluded if s == system)
        if left_out:
            marks = ", ".join("?" for _ in left_out)
            parts.append((f"{x}.system = ? AND {x}.code NOT IN ({marks})", [system, *left_out]))
        else:
            parts.append((f"{x}.system = ?", [system]))
    if not parts:
        return "1=0", []
    return " OR ".join(f"({p[0]})" for p in parts), [v for p in parts for v in p[1]]
