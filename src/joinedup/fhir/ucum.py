"""The UCUM units the record compares in canonical units (quantity search, R4 search.html#quantity).

Only conversions that are an exact factor between two UCUM units of one dimension are here: a
metric prefix, or a unit the UCUM defines as a fixed multiple of another. Conversions that need
more than a factor (mmol/L ↔ mg/dL needs a molar mass; Cel ↔ [degF] an offset) and calendar
units (``mo``, ``a``: means of unequal months and years) are left out, so a search in those
units matches only the same unit.

Sources (read, not downloaded; the table is written here): The Unified Code for Units of
Measure, version 2.1, https://ucum.org/ucum — §4 "Prefixes" (Table 1: k 1e3, d 1e-1, c 1e-2,
m 1e-3, u 1e-6, n 1e-9, p 1e-12), Table 2 "base units" (m, s, g, mol's definition), Table 4
"derived units": L and l = dm3, min = 60 s, h = 60 min, d = 24 h, wk = 7 d, Pa = N/m2,
m[Hg] = 133.3220 kPa, m[H2O] = 9.80665 kPa.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache

UCUM = "http://unitsofmeasure.org"

_PREFIXES = {
    "": Decimal(1),
    "k": Decimal("1e3"),
    "d": Decimal("1e-1"),
    "c": Decimal("1e-2"),
    "m": Decimal("1e-3"),
    "u": Decimal("1e-6"),
    "n": Decimal("1e-9"),
    "p": Decimal("1e-12"),
}
# Units that take every prefix, each with the canonical unit of its dimension.
_PREFIXED = {"g": "g", "m": "m", "L": "L", "l": "L", "mol": "mol", "Pa": "Pa", "s": "s"}
# Units defined as a fixed multiple of a canonical unit.
_MULTIPLES = {
    "min": (Decimal(60), "s"),
    "h": (Decimal(3600), "s"),
    "d": (Decimal(86400), "s"),
    "wk": (Decimal(604800), "s"),
    "mm[Hg]": (Decimal("133.3220"), "Pa"),
    "cm[H2O]": (Decimal("98.0665"), "Pa"),
}


@cache
def _table() -> dict[str, tuple[Decimal, str]]:
    table: dict[str, tuple[Decimal, str]] = dict(_MULTIPLES)
    for prefix, factor in _PREFIXES.items():
        for unit, base in _PREFIXED.items():
            table.setdefault(prefix + unit, (factor, base))
    # Concentrations: an amount (g or mol, any prefix) per volume (L or l, any prefix).
    for top, top_base in (("g", "g"), ("mol", "mol")):
        for top_prefix, top_factor in _PREFIXES.items():
            for bottom in ("L", "l"):
                for bottom_prefix, bottom_factor in _PREFIXES.items():
                    code = f"{top_prefix}{top}/{bottom_prefix}{bottom}"
                    table[code] = (top_factor / bottom_factor, f"{top_base}/L")
    return table


def canonical(value: Decimal, code: str) -> tuple[Decimal, str] | None:
    """``value`` in ``code`` (a UCUM code) as ``(value, canonical code)``; None for a unit
    this table does not convert."""
    found = _table().get(code)
    if found is None:
        return None
    factor, base = found
    return value * factor, base
