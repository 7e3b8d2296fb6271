"""Disclosure control of every published count, through :mod:`joinedup.export.disclosure`.

Per measure, period and breakdown the groups form one table whose margin is the ICS total, so
secondary suppression stops a hidden group being recovered from the others. For proportions
the complement (denominator - numerator) is protected too, since it and the denominator give
the numerator back. A hidden row loses its value, interval and comparisons as well.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from joinedup.export.disclosure import DisclosureRule, protect_one_way_tables
from joinedup.measures.compute.estimate import Estimates

Array = np.ndarray[Any, Any]


def _tables(estimates: Estimates) -> Array:
    """Each row's table: its breakdown and period (the ICS row is a table of one)."""
    keys = np.char.add(
        estimates.breakdown.astype(str), np.char.add("\x1f", estimates.period_start.astype(str))
    )
    return np.unique(keys, return_inverse=True)[1]


def protect(
    estimates: Estimates, *, with_complement: bool, rule: DisclosureRule
) -> tuple[Array, Array, Array]:
    """(hidden, published numerator, published denominator) per row; the published counts are
    object arrays holding None where hidden."""
    tables = _tables(estimates)
    numerator = np.nan_to_num(estimates.numerator).astype(np.int64)
    hidden = protect_one_way_tables(numerator, tables, rule)
    denominator = np.asarray(estimates.denominator, dtype=np.float64)
    if with_complement:
        complement = np.maximum(np.nan_to_num(denominator) - numerator, 0).astype(np.int64)
        hidden |= protect_one_way_tables(complement, tables, rule)
    published_numerator = rule.rounded_counts(numerator).astype(object)
    published_numerator[hidden] = None
    if with_complement:
        published_denominator = rule.rounded_counts(
            np.rint(np.nan_to_num(denominator)).astype(np.int64)
        ).astype(object)
    else:
        published_denominator = np.round(denominator, 1).astype(object)
    published_denominator[hidden | np.isnan(denominator)] = None
    return hidden, published_numerator, published_denominator
