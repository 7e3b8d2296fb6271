"""Typed search values: what one comma-separated value of a parameter means (R4 search)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

from joinedup.fhir.outcome import FHIRError
from joinedup.store.fulltext import words
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


@dataclass(frozen=True, slots=True)
class PhraseValue:
    """A ``_text``/``_content`` value in the form :func:`joinedup.store.fulltext.words` gives."""

    words: str


@dataclass(frozen=True, slots=True)
class ValueSetValue:
    """A token ``:in``/``:not-in`` value: a ValueSet's canonical url (``url[|version]``) or
    a literal ``ValueSet/id``."""

    reference: str


@dataclass(frozen=True, slots=True)
class NearValue:
    """``near=latitude|longitude|distance|units``, the distance in kilometres."""

    latitude: float
    longitude: float
    km: float


SearchValue = (
    TokenValue
    | StringValue
    | UriValue
    | DateValue
    | NumberValue
    | ReferenceValue
    | CompositeValue
    | PhraseValue
    | ValueSetValue
    | NearValue
)

#: Kilometres per UCUM distance unit a ``near`` search may give (``[mi_i]``: the international
#: mile, 1609.344 m in UCUM 2.1).
NEAR_UNITS = {"km": 1.0, "m": 0.001, "[mi_i]": 1.609344}
#: The distance ``near`` uses when the client gives none (R4 leaves it to the server).
NEAR_DEFAULT_KM = 10.0


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


def _number(name: str, text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise FHIRError(
            f"search parameter {name}: {what} {text!r} is not a number", expression=name
        )
    return value


def parse_near(name: str, text: str) -> NearValue:
    """``latitude|longitude[|distance[|units]]`` (R4 Location ``near``; units default to km)."""
    parts = [unescape(p) for p in split_escaped(text, "|")]
    if len(parts) < 2 or len(parts) > 4:
        raise FHIRError(
            f"search parameter {name}: use latitude|longitude|distance|units, e.g. "
            "53.80|-1.55|5|km",
            expression=name,
        )
    latitude = _number(name, parts[0], "latitude")
    longitude = _number(name, parts[1], "longitude")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise FHIRError(
            f"search parameter {name}: latitude must be within ±90 and longitude within ±180",
            expression=name,
        )
    units = parts[3] if len(parts) == 4 and parts[3] else "km"
    if units not in NEAR_UNITS:
        raise FHIRError(
            f"search parameter {name}: distance units {units!r} are not supported; use "
            + ", ".join(NEAR_UNITS),
            expression=name,
        )
    if len(parts) >= 3 and parts[2]:
        distance = _number(name, parts[2], "distance")
        if distance < 0:
            raise FHIRError(f"search parameter {name}: distance is negative", expression=name)
        km = distance * NEAR_UNITS[units]
    else:
        km = NEAR_DEFAULT_KM
    return NearValue(latitude, longitude, km)


def parse_phrase(name: str, text: str) -> PhraseValue:
    """A ``_text``/``_content`` value: a word or phrase, matched whole-word, any case."""
    found = words(unescape(text))
    if not found:
        raise FHIRError(f"search parameter {name}: {text!r} has no words", expression=name)
    return PhraseValue(found)


def parse_value(name: str, kind: str, text: str, modifier: str | None) -> SearchValue:
    """One value of parameter ``name`` of type ``kind``; a 400 naming ``name`` when malformed."""
    if text == "":
        raise FHIRError(f"search parameter {name} has an empty value", expression=name)
    if kind == "token" and modifier in ("in", "not-in"):
        return ValueSetValue(unescape(text))
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
        uri = unescape(text)
        if modifier in ("above", "below") and "://" not in uri:
            # R4: these modifiers compare URL paths; URNs and OIDs have none.
            raise FHIRError(
                f"search parameter {name}:{modifier} applies to URLs only, not {uri!r}",
                expression=name,
            )
        return UriValue(uri)
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
    if kind == "special":
        return parse_near(name, text)
    if kind == "reference":
        target_type, target_id, url = parse_reference(unescape(text))
        if target_id is None and url is not None and "/" not in url and ":" not in url:
            return ReferenceValue(None, url, None)
        return ReferenceValue(target_type, target_id, url)
    raise FHIRError(f"search parameter {name} of type {kind} is not supported", expression=name)
