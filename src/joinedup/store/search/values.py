"""Typed search values: what one comma-separated value of a parameter means (R4 search)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from joinedup.fhir.outcome import FHIRError
from joinedup.store.indexing import parse_reference
from joinedup.store.ranges import decimal_range, parse_date_param

_ESCAPE = re.compile(r"\\(.)")
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


@dataclass(frozen=True, slots=True)
class TokenValue:
    """``code`` (any system), ``system|code``, ``|code`` (no system: ``system == ""``),
    ``system|`` (any code: ``code is None``). For ``:of-type``: ``type_system|type_code|value``
    held as ``type_system``, ``type_code`` and ``code``."""

    system: str | None
    code: str | None
    type_system: str | None = None
    type_code: str | None = None


@dataclass(frozen=True, slots=True)
class StringValue:
    text: str


@dataclass(frozen=True, slots=True)
class UriValue:
    uri: str


@dataclass(frozen=True, slots=True)
class DateValue:
    prefix: str
    low: int
    high: int


@dataclass(frozen=True, slots=True)
class NumberValue:
    """A number or quantity: ``[prefix]value[|system|code]`` (``system``/``code`` only for
    quantities; ``None`` = not given)."""

    prefix: str
    value: Decimal
    low: Decimal
    high: Decimal
    system: str | None = None
    code: str | None = None


@dataclass(frozen=True, slots=True)
class ReferenceValue:
    """``id``, ``Type/id`` or an absolute URL (``url``)."""

    target_type: str | None
    target_id: str | None
    url: str | None


@dataclass(frozen=True, slots=True)
class CompositeValue:
    parts: tuple[SearchValue, ...]


SearchValue = (
    TokenValue | StringValue | UriValue | DateValue | NumberValue | ReferenceValue | CompositeValue
)


def split_escaped(text: str, separator: str) -> list[str]:
    """Split on ``separator`` where it is not escaped by ``\\``; escapes stay in the parts
    (a later split or :func:`unescape` handles them)."""
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


def unescape(text: str) -> str:
    """Undo the search escapes ``\\,`` ``\\|`` ``\\$`` ``\\\\``."""
    return _ESCAPE.sub(r"\1", text)


def _prefixed(name: str, text: str) -> tuple[str, str]:
    if len(text) > 2 and text[:2] in PREFIXES and not text[:2].isdigit():
        return text[:2], text[2:]
    if text[:2].isalpha():
        raise FHIRError(
            f"search parameter {name}: {text!r} does not start with a number or date; the "
            "prefixes before one are " + ", ".join(PREFIXES),
            expression=name,
        )
    return "eq", text


def parse_value(name: str, kind: str, text: str, modifier: str | None) -> SearchValue:
    """One value of parameter ``name`` of type ``kind``; a 400 naming ``name`` when malformed."""
    if text == "":
        raise FHIRError(f"search parameter {name} has an empty value", expression=name)
    if kind == "token":
        parts = [unescape(p) for p in split_escaped(text, "|")]
        if modifier == "of-type":
            if len(parts) != 3:
                raise FHIRError(
                    f"search parameter {name}:of-type needs type-system|type-code|value",
                    expression=name,
                )
            return TokenValue(None, parts[2] or None, parts[0] or None, parts[1] or None)
        if modifier == "text":
            return TokenValue(None, unescape(text))
        if len(parts) == 1:
            return TokenValue(None, parts[0])
        if len(parts) == 2:
            return TokenValue(parts[0], parts[1] or None)
        raise FHIRError(f"search parameter {name}: too many '|' in {text!r}", expression=name)
    if kind == "string":
        return StringValue(unescape(text))
    if kind == "uri":
        return UriValue(unescape(text))
    if kind == "date":
        prefix, rest = _prefixed(name, text)
        low, high = parse_date_param(name, rest)
        return DateValue(prefix, low, high)
    if kind in ("number", "quantity"):
        prefix, rest = _prefixed(name, text)
        parts = [unescape(p) for p in split_escaped(rest, "|")]
        if (kind == "number" and len(parts) > 1) or len(parts) not in (1, 3):
            raise FHIRError(
                f"search parameter {name}: {text!r} is not [prefix]number"
                + ("[|system|code]" if kind == "quantity" else ""),
                expression=name,
            )
        number, number_low, number_high = decimal_range(name, parts[0])
        system = parts[1] or None if len(parts) == 3 else None
        code = parts[2] or None if len(parts) == 3 else None
        return NumberValue(prefix, number, number_low, number_high, system, code)
    if kind == "reference":
        target_type, target_id, url = parse_reference(unescape(text))
        if target_id is None and url is not None and "/" not in url and ":" not in url:
            return ReferenceValue(None, url, None)
        return ReferenceValue(target_type, target_id, url)
    raise FHIRError(f"search parameter {name} of type {kind} is not supported", expression=name)
