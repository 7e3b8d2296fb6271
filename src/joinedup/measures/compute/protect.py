"""Disclosure control of every published count, through :mod:`joinedup.export.disclosure`.

Per measure, period and breakdown the groups form one table whose margin is the ICS total, so
secondary suppression stops a hidden group being recovered from the others. For proportions
the complement (denominator - numerator) is protected too, since it and the denominator give
the numerator back. A hidden row loses its value, interval and comparisons as well.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from joinedup.export.disclosure import DisclosureRule, protect_count, protect_table
from joinedup.measures.compute.estimate import Estimates

Array = np.ndarray[Any, Any]


def _hidden_in(
    counts: Array, breakdown: Array, period: Array, group: Array, rule: DisclosureRule
) -> Array:
    # A count is hidden on its own when small (the rule's single-count test); a table with no
    # small cell has nothing to protect by complement, so only tables holding a small cell go
    # through the (much dearer) secondary suppression.
    hidden = np.array([protect_count(int(c), rule) is None for c in counts], dtype=bool)
    if not counts.size:
        return hidden
    keys = np.char.add(breakdown.astype(str), np.char.add("\x1f", period.astype(str)))
    _, codes = np.unique(keys, return_inverse=True)
    order = np.argsort(codes, kind="stable")
    boundaries = np.flatnonzero(np.diff(codes[order])) + 1
    for rows in np.split(order, boundaries):
        if breakdown[rows[0]] == "ics" or not hidden[rows].any():
            continue
        table = protect_table(
            [{"group": str(group[i]), "count": int(counts[i])} for i in rows],
            dimensions=["group"],
            count="count",
            rule=rule,
        )
        suppressed = {cell.coordinates[0] for cell in table.cells if cell.suppressed}
        hidden[rows] = [str(group[i]) in suppressed for i in rows]
    return hidden


def protect(
    estimates: Estimates, *, with_complement: bool, rule: DisclosureRule
) -> tuple[Array, Array, Array]:
    """(hidden, published numerator, published denominator) per row."""
    numerator = np.nan_to_num(estimates.numerator).astype(np.int64)
    hidden = _hidden_in(
        numerator, estimates.breakdown, estimates.period_start, estimates.group_id, rule
    )
    if with_complement:
        complement = np.maximum(np.nan_to_num(estimates.denominator) - numerator, 0).astype(
            np.int64
        )
        hidden |= _hidden_in(
            complement, estimates.breakdown, estimates.period_start, estimates.group_id, rule
        )
    published_numerator = np.array(
        [None if h else rule.rounded(int(n)) for h, n in zip(hidden, numerator, strict=True)],
        dtype=object,
    )
    denominator = estimates.denominator
    published_denominator = np.array(
        [
            None
            if h or np.isnan(d)
            else (rule.rounded(round(d)) if with_complement else round(float(d), 1))
            for h, d in zip(hidden, denominator, strict=True)
        ],
        dtype=object,
    )
    return hidden, published_numerator, published_denominator
