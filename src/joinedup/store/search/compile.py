"""Compile a parsed search into parameterised SQL (``?`` placeholders) for both dialects.

Every user value travels as a parameter; only names from the R4 definitions and fixed SQL
fragments are spelled into the text. One criterion drives a search as a ``pk IN (SELECT
resource_pk FROM idx_…)`` subquery over its table's value index; the others are ``EXISTS``
checks per row through the table's ``resource_pk`` index. The access restriction is ANDed in
for the searched row and for every row a chain or ``_has`` looks at.
"""

# ruff: noqa: S608 — this module composes SQL from fixed fragments, table names and R4
# parameter codes; every value a caller supplies travels as a bound parameter.

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from joinedup.fhir.outcome import FHIRError
from joinedup.fhir.search_parameters import FULL_TEXT, SearchParameter, search_parameter
from joinedup.fhir.ucum import UCUM, canonical
from joinedup.store.base import Restriction, WideRestriction
from joinedup.store.indexing import TABLE_OF_TYPE
from joinedup.store.ranges import date_range, micros_to_instant, now_instant
from joinedup.store.search.near import near_predicate
from joinedup.store.search.query import (
    ChainCriterion,
    Criterion,
    HasCriterion,
    ParamCriterion,
    SortKey,
)
from joinedup.store.search.values import (
    CompositeValue,
    DateValue,
    NearValue,
    NumberValue,
    PhraseValue,
    ReferenceValue,
    SearchValue,
    StringValue,
    TokenValue,
    UriValue,
    ValueSetValue,
)
from joinedup.store.search.valuesets import ValueSets, in_predicate
from joinedup.store.text import like_escape, normalize

Fragment = tuple[str, list[Any]]
# U+10FFFF sorts after every other character in UTF-8 byte order (SQLite's BINARY collation,
# PostgreSQL's "C"), so [p, p + MAX_CHAR) is "starts with p".
MAX_CHAR = "\U0010ffff"
_SORT_COLUMN = {
    "string": "norm",
    "token": "code",
    "date": "low",
    "number": "value",
    "quantity": "value",
    "reference": "target_id",
    "uri": "value",
}


def _and(parts: list[Fragment]) -> Fragment:
    if not parts:
        return "1=1", []
    return " AND ".join(f"({p[0]})" for p in parts), [v for p in parts for v in p[1]]


def _drive_rank(c: Criterion) -> int:
    """How well a criterion can drive a search (lower first): ids, then references to a
    named resource, then any positive value criterion, then words (a scan of every text
    row); negations and ``:missing`` last."""
    if not isinstance(c, ParamCriterion):
        return 2
    if c.missing is not None or c.modifier in ("not", "not-in"):
        return 4
    if c.param.code == "_id":
        return 0
    if c.param.code in FULL_TEXT or c.modifier == "contains":
        return 3
    return 1 if c.param.type == "reference" else 2


def _or(parts: list[Fragment]) -> Fragment:
    if not parts:
        return "1=0", []
    return " OR ".join(f"({p[0]})" for p in parts), [v for p in parts for v in p[1]]


def _token(x: str, v: TokenValue, modifier: str | None) -> Fragment:
    if modifier == "text":
        word = like_escape(normalize(v.code or ""))
        return (
            f"{x}.text LIKE ? ESCAPE '\\' OR {x}.text LIKE ? ESCAPE '\\'",
            [word + "%", "% " + word + "%"],
        )
    parts: list[Fragment] = []
    if modifier == "of-type":
        parts += [(f"{x}.type_system = ?", [v.type_system]), (f"{x}.type_code = ?", [v.type_code])]
    if v.system == "":
        parts.append((f"{x}.system IS NULL", []))
    elif v.system is not None:
        parts.append((f"{x}.system = ?", [v.system]))
    if v.code is not None:
        parts.append((f"{x}.code = ?", [v.code]))
    return _and(parts)


def _string(x: str, v: StringValue, modifier: str | None) -> Fragment:
    if modifier == "exact":
        return f"{x}.value = ?", [v.text]
    norm = normalize(v.text)
    if modifier == "contains":
        return f"{x}.norm LIKE ? ESCAPE '\\'", ["%" + like_escape(norm) + "%"]
    return f"{x}.norm >= ? AND {x}.norm < ?", [norm, norm + MAX_CHAR]


def _uri_ancestors(uri: str) -> list[str]:
    """``uri`` and every URL above it by path, each with and without a trailing ``/``:
    ``http://a.org/fhir/ValueSet`` → ``…/fhir/ValueSet``, ``…/fhir``, ``http://a.org``."""
    scheme, _, rest = uri.partition("://")
    segments = rest.rstrip("/").split("/")
    out: list[str] = []
    for end in range(len(segments), 0, -1):
        url = f"{scheme}://{'/'.join(segments[:end])}"
        out += [url, url + "/"]
    return out


def _uri(x: str, v: UriValue, modifier: str | None) -> Fragment:
    # R4 uri :below/:above compare whole path segments (…/fhir is not above …/fhirX);
    # parse_value has refused them for anything but a URL.
    if modifier == "below":
        base = v.uri.rstrip("/")
        return (
            f"{x}.value IN (?, ?) OR ({x}.value >= ? AND {x}.value < ?)",
            [base, base + "/", base + "/", base + "/" + MAX_CHAR],
        )
    if modifier == "above":
        ancestors = _uri_ancestors(v.uri)
        return f"{x}.value IN ({', '.join('?' for _ in ancestors)})", ancestors
    return f"{x}.value = ?", [v.uri]


def _approximate(v: DateValue) -> tuple[int, int]:
    # R4 leaves "ap" to the server; like HAPI we widen by 10% of the distance from now.
    now = date_range(now_instant())[0]
    spread = abs(now - v.low) // 10
    return v.low - spread, v.high + spread


def _date(x: str, v: DateValue) -> Fragment:
    low, high = f"{x}.low", f"{x}.high"
    match v.prefix:
        case "eq":
            return f"{low} >= ? AND {high} <= ?", [v.low, v.high]
        case "ne":
            return f"NOT ({low} >= ? AND {high} <= ?)", [v.low, v.high]
        case "gt":
            return f"{high} > ?", [v.high]
        case "lt":
            return f"{low} < ?", [v.low]
        case "ge":
            return f"{high} >= ?", [v.low]
        case "le":
            return f"{low} <= ?", [v.high]
        case "sa":
            return f"{low} > ?", [v.high]
        case "eb":
            return f"{high} < ?", [v.low]
    wide_low, wide_high = _approximate(v)
    return f"{low} <= ? AND {high} >= ?", [wide_high, wide_low]


def _lastupdated(x: str, v: DateValue) -> Fragment:
    """``_lastUpdated`` against the text column (ISO UTC instants compare as text)."""
    col = f"{x}.last_updated"
    lo, hi = micros_to_instant(v.low), micros_to_instant(v.high)
    match v.prefix:
        case "eq":
            return f"{col} >= ? AND {col} <= ?", [lo, hi]
        case "ne":
            return f"NOT ({col} >= ? AND {col} <= ?)", [lo, hi]
        case "gt" | "sa":
            return f"{col} > ?", [hi]
        case "lt" | "eb":
            return f"{col} < ?", [lo]
        case "ge":
            return f"{col} >= ?", [lo]
        case "le":
            return f"{col} <= ?", [hi]
    wide_low, wide_high = _approximate(v)
    return f"{col} >= ? AND {col} <= ?", [micros_to_instant(wide_low), micros_to_instant(wide_high)]


def _number(x: str, v: NumberValue) -> Fragment:
    converted = canonical(v.value, v.code) if v.system == UCUM and v.code else None
    if converted is not None and v.code is not None:
        # A UCUM unit with a canonical form: compare every stored quantity of that dimension
        # in canonical units (5.4 mmol/L matches 5400 umol/L), the precision range too.
        low, high = (canonical(bound, v.code) for bound in (v.low, v.high))
        assert low is not None and high is not None  # the same unit converts every value
        return _compare(
            f"{x}.canonical_value",
            v.prefix,
            float(converted[0]),
            float(low[0]),
            float(high[0]),
            [(f"{x}.canonical_code = ?", [converted[1]])],
        )
    parts: list[Fragment] = []
    if v.system is not None:
        parts.append((f"{x}.system = ?", [v.system]))
    if v.code is not None:
        if v.system is None:
            parts.append((f"{x}.code = ? OR {x}.unit = ?", [v.code, v.code]))
        else:
            parts.append((f"{x}.code = ?", [v.code]))
    return _compare(f"{x}.value", v.prefix, float(v.value), float(v.low), float(v.high), parts)


def _compare(
    col: str, prefix: str, value: float, low: float, high: float, also: list[Fragment]
) -> Fragment:
    """``col`` against a number with ``prefix`` (``low``/``high``: its implied precision's
    range, for ``eq`` and ``ne``), ANDed with ``also``."""
    parts: list[Fragment] = []
    match prefix:
        case "eq":
            parts.append((f"{col} >= ? AND {col} < ?", [low, high]))
        case "ne":
            parts.append((f"NOT ({col} >= ? AND {col} < ?)", [low, high]))
        case "gt" | "sa":
            parts.append((f"{col} > ?", [value]))
        case "lt" | "eb":
            parts.append((f"{col} < ?", [value]))
        case "ge":
            parts.append((f"{col} >= ?", [value]))
        case "le":
            parts.append((f"{col} <= ?", [value]))
        case _:
            # "ap": within 10% of the value (the R4 spec's recommendation).
            spread = abs(value) / 10
            parts.append((f"{col} >= ? AND {col} <= ?", [value - spread, value + spread]))
    return _and(parts + also)


def _reference(x: str, v: ReferenceValue) -> Fragment:
    if v.target_id is None or (v.url is not None and "://" in v.url):
        return f"{x}.url = ?", [v.url]
    if v.target_type is None:
        return f"{x}.target_id = ?", [v.target_id]
    return f"{x}.target_type = ? AND {x}.target_id = ?", [v.target_type, v.target_id]


def value_predicate(kind: str, x: str, value: SearchValue, modifier: str | None) -> Fragment:
    """The predicate on index row ``x`` for one search value of a parameter of type ``kind``."""
    if isinstance(value, TokenValue):
        return _token(x, value, modifier)
    if isinstance(value, StringValue):
        return _string(x, value, modifier)
    if isinstance(value, UriValue):
        return _uri(x, value, modifier)
    if isinstance(value, DateValue):
        return _date(x, value)
    if isinstance(value, NumberValue):
        return _number(x, value)
    if isinstance(value, ReferenceValue):
        return _reference(x, value)
    if isinstance(value, PhraseValue):
        return f"{x}.words LIKE ? ESCAPE '\\'", ["%" + like_escape(value.words) + "%"]
    if isinstance(value, NearValue):
        return near_predicate(x, value)
    raise FHIRError(f"a {kind} value cannot be searched this way", expression=kind)


@dataclass
class SearchCompiler:
    """Compiles criteria for one call; ``restriction`` is ANDed for every resource row."""

    dialect: str
    restriction: Restriction | None
    value_sets: ValueSets | None = None
    """Where token ``:in``/``:not-in`` find their ValueSets (None: those modifiers fail)."""
    _aliases: itertools.count[int] = field(default_factory=itertools.count)

    def alias(self, prefix: str) -> str:
        return f"{prefix}{next(self._aliases)}"

    def restrict(self, alias: str, *, wide: bool = False) -> Fragment:
        """The restriction over ``alias``; ``wide`` for the searched rows of a search that no
        criterion narrows to a person or to ids, when the restriction has a shape for that."""
        if self.restriction is None:
            return "1=1", []
        if wide and isinstance(self.restriction, WideRestriction):
            text, params = self.restriction.wide_sql(self.dialect, alias)
        else:
            text, params = self.restriction.sql(self.dialect, alias)
        return text, list(params)

    def criteria(self, resource_type: str, criteria: tuple[Criterion, ...], r: str) -> Fragment:
        # SQLite builds every uncorrelated ``pk IN (SELECT …)`` list in full: a patient's
        # Observations with a common code built the list of every Observation with that code
        # (12 ms at 100k resources). So only the likeliest-narrowest criterion drives; the
        # others are checked row by row through their table's resource_pk index (0.6 ms).
        driver = min(range(len(criteria)), key=lambda i: _drive_rank(criteria[i]), default=0)
        return _and(
            [
                self.criterion(resource_type, c, r, per_row=i != driver)
                for i, c in enumerate(criteria)
            ]
        )

    def criterion(
        self, resource_type: str, c: Criterion, r: str, *, per_row: bool = False
    ) -> Fragment:
        if isinstance(c, ChainCriterion):
            return self._chain(c, r)
        if isinstance(c, HasCriterion):
            return self._has(resource_type, c, r)
        return self._param(resource_type, c, r, per_row=per_row)

    def _param(
        self, resource_type: str, c: ParamCriterion, r: str, *, per_row: bool = False
    ) -> Fragment:
        code, kind = c.param.code, c.param.type
        if code == "_id":
            if c.missing is not None:
                return ("1=0" if c.missing else "1=1"), []
            ids = [v.code for v in c.values if isinstance(v, TokenValue)]
            marks = ", ".join("?" for _ in ids)
            return f"{r}.id {'NOT ' if c.modifier == 'not' else ''}IN ({marks})", ids
        if code == "_lastUpdated":
            if c.missing is not None:
                return ("1=0" if c.missing else "1=1"), []
            return _or([_lastupdated(r, v) for v in c.values if isinstance(v, DateValue)])
        if kind == "composite":
            return self._composite(resource_type, c, r)
        table = "idx_text" if code in FULL_TEXT else TABLE_OF_TYPE[kind]
        x = self.alias("x")
        if c.missing is not None:
            op = "NOT IN" if c.missing else "IN"
            return f"{r}.pk {op} (SELECT {x}.resource_pk FROM {table} {x} WHERE {x}.param = ?)", [
                code
            ]
        values = _or([self._value(c, x, v) for v in c.values])
        negate = "NOT " if c.modifier in ("not", "not-in") else ""
        if per_row:
            return (
                f"{negate}EXISTS (SELECT 1 FROM {table} {x} WHERE {x}.resource_pk = {r}.pk "
                f"AND {x}.param = ? AND ({values[0]}))",
                [code, *values[1]],
            )
        return (
            f"{r}.pk {negate}IN (SELECT {x}.resource_pk FROM {table} {x} "
            f"WHERE {x}.param = ? AND ({values[0]}))",
            [code, *values[1]],
        )

    def _value(self, c: ParamCriterion, x: str, value: SearchValue) -> Fragment:
        if not isinstance(value, ValueSetValue):
            return value_predicate(c.param.type, x, value, c.modifier)
        name = f"{c.param.code}:{c.modifier}"
        if self.value_sets is None:
            raise FHIRError(f"search parameter {name} cannot be used here", expression=name)
        try:
            return in_predicate(x, self.value_sets.expand(value.reference))
        except FHIRError as error:
            raise FHIRError(
                f"search parameter {name}: {error.diagnostics}", code=error.code, expression=name
            ) from None

    def _composite(self, resource_type: str, c: ParamCriterion, r: str) -> Fragment:
        components: list[SearchParameter] = []
        for comp_code, _ in c.param.components:
            component = search_parameter(resource_type, comp_code)
            if component is None:
                raise FHIRError(f"composite {c.param.code}: unknown component {comp_code}")
            components.append(component)
        aliases = [self.alias("c") for _ in components]
        first = aliases[0]
        joins = " ".join(
            f"JOIN {TABLE_OF_TYPE[comp.type]} {a} ON {a}.resource_pk = {first}.resource_pk "
            f"AND {a}.param = {first}.param AND {a}.grp = {first}.grp"
            for comp, a in zip(components[1:], aliases[1:], strict=True)
        )
        if c.missing is not None:
            op = "NOT IN" if c.missing else "IN"
            table = TABLE_OF_TYPE[components[0].type]
            return (
                f"{r}.pk {op} (SELECT {first}.resource_pk FROM {table} {first} "
                f"WHERE {first}.param = ?)",
                [c.param.code],
            )
        alternatives = []
        for value in c.values:
            if not isinstance(value, CompositeValue):
                continue
            alternatives.append(
                _and(
                    [
                        value_predicate(comp.type, a, part, None)
                        for comp, a, part in zip(components, aliases, value.parts, strict=True)
                    ]
                )
            )
        where = _or(alternatives)
        table = TABLE_OF_TYPE[components[0].type]
        return (
            f"{r}.pk IN (SELECT {first}.resource_pk FROM {table} {first} {joins} "
            f"WHERE {first}.param = ? AND ({where[0]}))",
            [c.param.code, *where[1]],
        )

    def _chain(self, c: ChainCriterion, r: str) -> Fragment:
        alternatives = []
        for target_type, inner in c.targets:
            x, t = self.alias("x"), self.alias("t")
            inner_sql = self.criterion(target_type, inner, t)
            restriction = self.restrict(t)
            alternatives.append(
                (
                    f"{r}.pk IN (SELECT {x}.resource_pk FROM idx_reference {x} "
                    f"JOIN resource {t} ON {t}.resource_type = {x}.target_type "
                    f"AND {t}.id = {x}.target_id "
                    f"WHERE {x}.param = ? AND {x}.target_type = ? AND {t}.deleted = 0 "
                    f"AND ({inner_sql[0]}) AND ({restriction[0]}))",
                    [c.reference.code, target_type, *inner_sql[1], *restriction[1]],
                )
            )
        return _or(alternatives)

    def _has(self, resource_type: str, c: HasCriterion, r: str) -> Fragment:
        x, s = self.alias("x"), self.alias("s")
        inner_sql = self.criterion(c.source_type, c.inner, s)
        restriction = self.restrict(s)
        return (
            f"{r}.id IN (SELECT {x}.target_id FROM idx_reference {x} "
            f"JOIN resource {s} ON {s}.pk = {x}.resource_pk "
            f"WHERE {x}.param = ? AND {x}.target_type = ? AND {s}.resource_type = ? "
            f"AND {s}.deleted = 0 AND ({inner_sql[0]}) AND ({restriction[0]}))",
            [c.reference.code, resource_type, c.source_type, *inner_sql[1], *restriction[1]],
        )

    def sort_expression(self, key: SortKey, r: str) -> Fragment:
        """A scalar SQL expression ordering rows by ``key`` (NULL when the value is absent)."""
        code = key.param.code
        if code == "_id":
            return f"{r}.id", []
        if code == "_lastUpdated":
            return f"{r}.last_updated", []
        table = TABLE_OF_TYPE[key.param.type]
        column = _SORT_COLUMN[key.param.type]
        if key.param.type == "date" and key.descending:
            column = "high"
        aggregate = "MAX" if key.descending else "MIN"
        y = self.alias("y")
        return (
            f"(SELECT {aggregate}({y}.{column}) FROM {table} {y} "
            f"WHERE {y}.resource_pk = {r}.pk AND {y}.param = ?)",
            [code],
        )
