"""A parsed FHIR search: ``parse_search(resource_type, [(name, value), …])`` → :class:`SearchQuery`.

Parsing checks everything a client can get wrong (unknown parameter or modifier, bad prefix,
date or number, ``_sort``/``_include`` targets) and raises :class:`FHIRError` (400) naming the
parameter; under lenient handling unknown parameters are dropped and listed in ``warnings``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Literal

from joinedup.fhir.outcome import FHIRError
from joinedup.fhir.search_parameters import (
    FULL_TEXT,
    SearchParameter,
    resource_types,
    search_parameter,
    search_parameters,
)
from joinedup.store.search.values import (
    CompositeValue,
    SearchValue,
    parse_phrase,
    parse_value,
    split_escaped,
)

MAX_COUNT = 1000
DEFAULT_COUNT = 50
#: The search across types (``GET [base]?_type=…``) has this as its ``resource_type``.
SYSTEM = "Resource"
_MODIFIERS = {
    "token": {"text", "not", "missing", "of-type", "in", "not-in", "above", "below"},
    "string": {"exact", "contains", "missing"},
    "date": {"missing"},
    "number": {"missing"},
    "quantity": {"missing"},
    "reference": {"missing"},
    "uri": {"missing", "above", "below"},
    "composite": {"missing"},
    "special": {"missing"},
}
# Result parameters the server applies to the Bundle (``_elements``, ``_summary``) or that do
# not change what matches (``_format``, ``_pretty``).
_RESULT_PARAMS = {
    "_format",
    "_pretty",
    "_elements",
    "_summary",
    "_total",
    "_count",
    "_sort",
    "_include",
    "_revinclude",
    "_cursor",
}


@dataclass(frozen=True, slots=True)
class ParamCriterion:
    """One ``name[:modifier]=v1,v2`` occurrence: the values OR, occurrences AND."""

    param: SearchParameter
    modifier: str | None
    values: tuple[SearchValue, ...]
    """Empty for ``:missing`` (see ``missing``)."""
    missing: bool | None = None


@dataclass(frozen=True, slots=True)
class ChainCriterion:
    """``reference[:Type].inner`` — matches when a referenced resource of one of the target
    types matches ``inner`` (one inner criterion per candidate target type)."""

    reference: SearchParameter
    targets: tuple[tuple[str, Criterion], ...]


@dataclass(frozen=True, slots=True)
class HasCriterion:
    """``_has:Source:reference:inner`` — matches when some ``Source`` resource whose
    ``reference`` points at this resource matches ``inner``."""

    source_type: str
    reference: SearchParameter
    inner: Criterion


Criterion = ParamCriterion | ChainCriterion | HasCriterion


@dataclass(frozen=True, slots=True)
class SortKey:
    param: SearchParameter
    descending: bool


@dataclass(frozen=True, slots=True)
class Include:
    """``_include`` (``reverse=False``: follow ``source_type:param`` from matches) or
    ``_revinclude`` (``reverse=True``: add ``source_type`` resources whose ``param`` points at
    a result). ``param=None`` is the ``*`` wildcard; ``iterate`` applies it to included
    resources too."""

    source_type: str
    param: str | None
    target_type: str | None
    iterate: bool
    reverse: bool


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A validated search, ready for :meth:`joinedup.store.base.Store.search`."""

    resource_type: str
    """The searched type, or :data:`SYSTEM` for a search across types (see ``types``)."""
    types: tuple[str, ...] = ()
    """For a search across types, the ``_type`` list (empty: every type)."""
    criteria: tuple[Criterion, ...] = ()
    sort: tuple[SortKey, ...] = ()
    includes: tuple[Include, ...] = ()
    count: int = DEFAULT_COUNT
    total: Literal["none", "estimate", "accurate"] = "accurate"
    summary: str | None = None
    """``_summary`` as given; ``"count"`` makes the store return only the total."""
    elements: tuple[str, ...] | None = None
    """``_elements`` as given (the server trims the resources)."""
    cursor: str | None = None
    params: tuple[tuple[str, str], ...] = ()
    """The parameters as given, minus ``_cursor``: the base of paging links."""
    warnings: tuple[str, ...] = field(default=())
    """Unknown parameters ignored under lenient handling (for an OperationOutcome)."""

    def link_params(self, cursor: str | None) -> list[tuple[str, str]]:
        """The parameters of a link to the page at ``cursor`` (``None``: the first page)."""
        return list(self.params) + ([("_cursor", cursor)] if cursor else [])


def _bad(name: str, message: str) -> FHIRError:
    return FHIRError(f"search parameter {name}: {message}", expression=name)


class _UnknownParameter(Exception):
    pass


def _check_type(resource_type: str) -> None:
    if resource_type not in resource_types():
        raise FHIRError(
            f"{resource_type} is not a resource type this server searches",
            status=404,
            code="not-supported",
            expression=resource_type,
        )


def _criterion(resource_type: str, name: str, value: str) -> Criterion:
    if name.startswith("_has:"):
        return _has(resource_type, name, value)
    head, dot, rest = name.partition(".")
    code, _, modifier = head.partition(":")
    param = search_parameter(resource_type, code)
    if param is None:
        raise _UnknownParameter(code)
    if dot:
        return _chain(resource_type, param, modifier or None, rest, value, name)
    modifier_or_none = modifier or None
    if modifier_or_none is not None:
        if param.type == "reference" and modifier_or_none in resource_types():
            if param.targets and "Any" not in param.targets and modifier not in param.targets:
                raise _bad(name, f"{modifier} is not a target of {code}")
        elif modifier_or_none not in _MODIFIERS[param.type]:
            raise _bad(name, f"modifier :{modifier} is not supported for {param.type} parameters")
    if modifier_or_none == "of-type" and code != "identifier":
        raise _bad(name, ":of-type only applies to identifier")
    if param.type == "token" and modifier_or_none in ("above", "below"):
        raise _bad(
            name,
            f":{modifier} needs the code system's hierarchy, which this server does not hold "
            "(it has no terminology server); search for the codes, or use :in with a ValueSet",
        )
    if code == "_id" and modifier_or_none in ("in", "not-in"):
        raise _bad(name, f":{modifier} applies to coded values, not to ids")
    if code in FULL_TEXT and modifier_or_none not in (None, "missing"):
        raise _bad(name, f"modifier :{modifier} is not supported for {code}")
    if modifier_or_none == "missing":
        if value not in ("true", "false"):
            raise _bad(name, ":missing takes true or false")
        return ParamCriterion(param, "missing", (), missing=value == "true")
    values = tuple(
        _value(resource_type, param, name, part, modifier_or_none)
        for part in split_escaped(value, ",")
    )
    return ParamCriterion(param, modifier_or_none, values)


def _value(
    resource_type: str, param: SearchParameter, name: str, text: str, modifier: str | None
) -> SearchValue:
    if param.code in FULL_TEXT:
        return parse_phrase(name, text)
    if param.type != "composite":
        value = parse_value(name, param.type, text, modifier)
        if (
            modifier
            and modifier in resource_types()
            and param.type == "reference"
            and value.__class__.__name__ == "ReferenceValue"
        ):
            return parse_value(name, "reference", f"{modifier}/{text}", None)
        return value
    pieces = split_escaped(text, "$")
    if len(pieces) != len(param.components):
        raise _bad(name, f"needs {len(param.components)} parts separated by '$'")
    parts = []
    for (code, _), piece in zip(param.components, pieces, strict=True):
        component = search_parameter(resource_type, code)
        if component is None:
            raise _bad(name, f"component {code} is unknown")
        parts.append(parse_value(name, component.type, piece, None))
    return CompositeValue(tuple(parts))


def _chain(
    resource_type: str,
    param: SearchParameter,
    modifier: str | None,
    rest: str,
    value: str,
    name: str,
) -> ChainCriterion:
    if param.type != "reference":
        raise _bad(name, f"{param.code} is not a reference, so it cannot be chained")
    candidates = [modifier] if modifier else [t for t in param.targets if t != "Any"]
    if modifier and modifier not in resource_types():
        raise _bad(name, f"{modifier} is not a resource type")
    inner_code = rest.split(".")[0].split(":")[0]
    targets: list[tuple[str, Criterion]] = []
    for target in candidates:
        if target in resource_types() and search_parameter(target, inner_code) is not None:
            targets.append((target, _criterion(target, rest, value)))
    if not targets:
        raise _bad(
            name,
            f"no target type of {param.code} has a parameter {inner_code}; "
            f"name one, e.g. {param.code}:Patient.{inner_code}",
        )
    return ChainCriterion(param, tuple(targets))


def _has(resource_type: str, name: str, value: str) -> HasCriterion:
    pieces = name.split(":", 3)
    if len(pieces) != 4 or not all(pieces[1:]):
        raise _bad(name, "use _has:SourceType:referenceParameter:parameter=value")
    _, source_type, ref_code, inner = pieces
    if source_type not in resource_types():
        raise _bad(name, f"{source_type} is not a resource type")
    reference = search_parameter(source_type, ref_code)
    if reference is None or reference.type != "reference":
        raise _bad(name, f"{ref_code} is not a reference parameter of {source_type}")
    if (
        reference.targets
        and "Any" not in reference.targets
        and resource_type not in reference.targets
    ):
        raise _bad(name, f"{source_type}.{ref_code} never points at {resource_type}")
    try:
        criterion = _criterion(source_type, inner, value)
    except _UnknownParameter:
        raise _bad(name, f"{source_type} has no search parameter {inner}") from None
    return HasCriterion(source_type, reference, criterion)


def _sort(resource_type: str, value: str) -> tuple[SortKey, ...]:
    keys = []
    for item in value.split(","):
        descending = item.startswith("-")
        code = item.lstrip("-")
        param = search_parameter(resource_type, code)
        if param is None or param.type in ("composite", "special") or code in FULL_TEXT:
            raise _bad("_sort", f"{resource_type} cannot be sorted by {code!r}")
        keys.append(SortKey(param, descending))
    return tuple(keys)


def _include(searched: Collection[str], name: str, value: str) -> tuple[Include, ...]:
    """The rules of one ``_include``/``_revinclude``; ``*`` makes one per searched type."""
    base, _, modifier = name.partition(":")
    reverse = base == "_revinclude"
    if modifier not in ("", "iterate", "recurse"):
        raise _bad(name, f"unknown modifier :{modifier}; use :iterate")
    iterate = modifier in ("iterate", "recurse")
    if value == "*":
        return tuple(Include(t, None, None, iterate, reverse) for t in sorted(searched))
    pieces = value.split(":")
    if len(pieces) not in (2, 3):
        raise _bad(name, "use SourceType:parameter[:TargetType] or *")
    source_type, code = pieces[0], pieces[1]
    target_type = pieces[2] if len(pieces) == 3 else None
    if source_type not in resource_types():
        raise _bad(name, f"{source_type} is not a resource type")
    param = search_parameter(source_type, code)
    if code != "*" and (param is None or param.type != "reference"):
        raise _bad(name, f"{code} is not a reference parameter of {source_type}")
    if not iterate and not reverse and source_type not in searched:
        raise _bad(name, f"{source_type} is not a searched type; add :iterate")
    if target_type is not None and target_type not in resource_types():
        raise _bad(name, f"{target_type} is not a resource type")
    return (Include(source_type, None if code == "*" else code, target_type, iterate, reverse),)


def parse_search(
    resource_type: str, params: Sequence[tuple[str, str]], *, strict: bool = False
) -> SearchQuery:
    """Parse query-string pairs for a search of ``resource_type``.

    ``strict`` (``Prefer: handling=strict``): an unknown parameter is a 400; otherwise it is
    ignored and named in ``warnings``. Raises :class:`FHIRError` for malformed values, naming
    the parameter.
    """
    _check_type(resource_type)
    return _parse(resource_type, (), params, strict)


def parse_system_search(params: Sequence[tuple[str, str]], *, strict: bool = False) -> SearchQuery:
    """Parse a search across types (``GET [base]?_type=Patient,Observation&…``): the common
    parameters (``_id``, ``_lastUpdated``, ``_tag``, ``_profile``, ``_security``, ``_source``,
    ``_text``, ``_content``) with the result parameters; ``_type`` names the types (none:
    every type)."""
    types: list[str] = []
    for name, value in params:
        if name == "_type":
            for part in (p.strip() for p in value.split(",")):
                if part not in resource_types():
                    raise _bad("_type", f"{part!r} is not a resource type this server holds")
                types.append(part)
    return _parse(SYSTEM, tuple(sorted(set(types))), params, strict)


def _parse(
    resource_type: str,
    types: tuple[str, ...],
    params: Sequence[tuple[str, str]],
    strict: bool,
) -> SearchQuery:
    system = resource_type == SYSTEM
    searched = (types or resource_types()) if system else (resource_type,)
    criteria: list[Criterion] = []
    sort: tuple[SortKey, ...] = ()
    includes: list[Include] = []
    count = DEFAULT_COUNT
    total: Literal["none", "estimate", "accurate"] = "accurate"
    summary: str | None = None
    elements: tuple[str, ...] | None = None
    cursor: str | None = None
    warnings: list[str] = []
    kept: list[tuple[str, str]] = []
    for name, value in params:
        if name == "_cursor":
            cursor = value
            continue
        kept.append((name, value))
        base = name.split(":")[0]
        if base in ("_format", "_pretty") or (system and name == "_type"):
            continue
        if system and base == "_has":
            raise _bad(name, "_has needs a type: search GET [base]/Type?_has:…")
        if base == "_count":
            if not value.isdigit():
                raise _bad("_count", f"{value!r} is not a whole number")
            count = min(int(value), MAX_COUNT)
        elif base == "_total":
            if value not in ("none", "estimate", "accurate"):
                raise _bad("_total", "use none, estimate or accurate")
            total = value  # type: ignore[assignment]
        elif base == "_summary":
            if value not in ("true", "text", "data", "count", "false"):
                raise _bad("_summary", "use true, text, data, count or false")
            summary = value
        elif base == "_elements":
            elements = tuple(e.strip() for e in value.split(",") if e.strip())
        elif base == "_sort":
            sort = _sort(resource_type, value)
        elif base in ("_include", "_revinclude"):
            includes.extend(_include(searched, name, value))
        else:
            try:
                criteria.append(_criterion(resource_type, name, value))
            except _UnknownParameter as unknown:
                message = f"unknown search parameter {name!r} for " + (
                    "a search across types, which takes the common parameters only"
                    if system
                    else resource_type
                )
                if strict:
                    raise FHIRError(
                        message + "; known: " + ", ".join(sorted(search_parameters(resource_type))),
                        expression=name,
                    ) from None
                warnings.append(message + " was ignored")
                del unknown
    return SearchQuery(
        resource_type=resource_type,
        types=types,
        criteria=tuple(criteria),
        sort=sort,
        includes=tuple(includes),
        count=count,
        total=total,
        summary=summary,
        elements=elements,
        cursor=cursor,
        params=tuple(kept),
        warnings=tuple(warnings),
    )
