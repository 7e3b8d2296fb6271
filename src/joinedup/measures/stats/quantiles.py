"""Assigning areas to quantiles (e.g. deprivation deciles) the Fingertips way.

OHID technical guide "Assigning deprivation categories": within each group of n areas with a
value, rank the values (ties share the lowest rank; with ``invert`` the highest value ranks
first) and assign quantile
    floor((q + 1) - ceiling(((n + 1) - rank) / (n / q))), with 0 counted as 1.
Groups with fewer than q areas, and areas without a value, get no quantile (NA).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from joinedup.measures.stats.groups import Groups
from joinedup.measures.stats.interval import FloatArray, as_float_array


def _check_invert(invert: ArrayLike, groups: Groups) -> NDArray[np.bool_]:
    flags = np.broadcast_to(np.asarray(invert, dtype=bool), groups.codes.shape)
    inverted_rows = np.bincount(groups.codes, weights=flags, minlength=groups.size)
    mixed = (inverted_rows > 0) & (inverted_rows < groups.count())
    if mixed.any():
        raise ValueError(
            "invert must take the same value for every row of a group; mixed in group(s) "
            f"{list(groups.keys[mixed][:5])}"
        )
    return np.asarray(flags, dtype=bool)


def quantiles(
    values: ArrayLike,
    nquantiles: int = 10,
    *,
    group: ArrayLike | Groups | None = None,
    invert: ArrayLike = True,
) -> FloatArray:
    """Quantile (1..nquantiles, as float; NaN = NA) of each value within its group.

    ``invert=True`` (the default, as in PHEindicatormethods) puts the highest values in
    quantile 1; it may be given per row, but must agree within each group.
    """
    data = np.atleast_1d(as_float_array(values, "values"))
    if nquantiles < 1:
        raise ValueError("nquantiles must be 1 or more")
    groups = Groups.of(group, len(data))
    flags = _check_invert(invert, groups)
    has_value = ~np.isnan(data)
    n = np.bincount(groups.codes, weights=has_value, minlength=groups.size)

    group_max = np.full(groups.size, -np.inf)
    np.maximum.at(group_max, groups.codes[has_value], data[has_value])
    adjusted = np.where(flags, group_max[groups.codes] - data, data)

    # Sort by group, then adjusted value (NA last); ties share the rank of their first member.
    order = np.lexsort((np.where(has_value, adjusted, np.inf), ~has_value, groups.codes))
    sorted_codes, sorted_values = groups.codes[order], adjusted[order]
    new_group = np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]
    new_value = new_group | np.r_[True, sorted_values[1:] != sorted_values[:-1]]
    position = np.arange(len(order))
    group_start = np.maximum.accumulate(np.where(new_group, position, 0))
    tie_start = np.maximum.accumulate(np.where(new_value, position, 0))
    rank = np.empty(len(order))
    rank[order] = tie_start - group_start + 1.0

    size = n[groups.codes]
    with np.errstate(divide="ignore", invalid="ignore"):
        quantile = np.floor((nquantiles + 1) - np.ceil(((size + 1) - rank) / (size / nquantiles)))
    quantile = np.where(quantile == 0, 1.0, quantile)
    return np.where(has_value & (size >= nquantiles), quantile, np.nan)
