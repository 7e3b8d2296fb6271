"""Benchmarking as Fingertips does: each area against the ICS value and against its peers,
by whether confidence intervals exclude each other, read through the measure's polarity."""

from __future__ import annotations

from typing import Any

import numpy as np

from joinedup.measures.compute.estimate import Estimates
from joinedup.measures.definitions import Polarity

Array = np.ndarray[Any, Any]


def _label(higher: Array, lower: Array, polarity: Polarity) -> Array:
    if polarity is Polarity.none:
        good, bad = "higher", "lower"
    elif polarity is Polarity.higher:
        good, bad = "better", "worse"
    else:
        good, bad = "worse", "better"
    return np.where(higher, good, np.where(lower, bad, "similar"))


def versus_ics(estimates: Estimates, polarity: Polarity) -> Array:
    """Per row: better / similar / worse than the ICS value of the same period (its point value
    outside the row's interval), ``not compared`` without an interval; '' on the ICS rows."""
    ics = estimates.breakdown == "ics"
    reference = dict(
        zip(estimates.period_start[ics].astype(str), estimates.value[ics], strict=True)
    )
    ics_value = np.array([reference.get(p, np.nan) for p in estimates.period_start.astype(str)])
    known = ~(np.isnan(estimates.lower) | np.isnan(estimates.upper) | np.isnan(ics_value))
    labels = _label(estimates.lower > ics_value, estimates.upper < ics_value, polarity)
    labels = np.where(known, labels, "not compared")
    return np.where(ics, "", labels)


def versus_peers(estimates: Estimates) -> tuple[Array, Array, Array]:
    """Per row: how many peers (same breakdown and period) its interval lies wholly above,
    overlaps, or lies wholly below."""
    above = np.zeros(len(estimates), dtype=np.int64)
    overlap = np.zeros(len(estimates), dtype=np.int64)
    below = np.zeros(len(estimates), dtype=np.int64)
    rows = np.flatnonzero(~np.isnan(estimates.lower) & ~np.isnan(estimates.upper))
    keys = np.char.add(
        estimates.breakdown[rows].astype(str), estimates.period_start[rows].astype(str)
    )
    _, codes = np.unique(keys, return_inverse=True)
    # Peers are the rows sharing a code: sort once, then compare within each run of a code.
    order = np.argsort(codes, kind="stable")
    for peers in np.split(rows[order], np.flatnonzero(np.diff(codes[order])) + 1):
        if len(peers) < 2:
            continue
        lower, upper = estimates.lower[peers], estimates.upper[peers]
        above[peers] = (lower[:, None] > upper[None, :]).sum(axis=1)
        below[peers] = (upper[:, None] < lower[None, :]).sum(axis=1)
        overlap[peers] = len(peers) - 1 - above[peers] - below[peers]
    return above, overlap, below
