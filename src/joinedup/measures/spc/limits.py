"""XmR (individuals) chart process limits for many series segments at once.

mean = mean of the baseline points; average moving range AMR = mean |x_t - x_{t-1}| over the
baseline; limits = mean -/+ 2.66 AMR (2.66 = 3 / d2, d2 = 1.128 for ranges of 2). With outlier
screening, moving ranges >= 3.267 AMR (the upper range limit, D4 = 3.267) are dropped and AMR
recomputed once (Nelson 1982; NHSRplotthedots ``screen_outliers``). The 2-sigma "near limit"
lines sit at two thirds of the way from the mean to the limits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

LIMIT_FACTOR = 2.66
MOVING_RANGE_LIMIT_FACTOR = 3.267
NEAR_LIMIT_FRACTION = 2.0 / 3.0

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class SegmentLimits:
    """Per-segment centre line and limits, one entry per segment."""

    mean: FloatArray
    lpl: FloatArray
    upl: FloatArray
    near_lpl: FloatArray
    near_upl: FloatArray


def position_in_segment(segments: NDArray[np.intp]) -> NDArray[np.intp]:
    """0-based position of each point within its (contiguous) segment."""
    index = np.arange(len(segments))
    starts = np.r_[True, segments[1:] != segments[:-1]] if len(segments) else np.zeros(0, bool)
    first = np.maximum.accumulate(np.where(starts, index, 0))
    return index - first


def xmr_limits(
    values: FloatArray,
    segments: NDArray[np.intp],
    n_segments: int,
    *,
    fix_after_n_points: int | None = None,
    screen_outliers: bool = True,
) -> SegmentLimits:
    """Limits of each segment from its first ``fix_after_n_points`` points (default: all)."""
    position = position_in_segment(segments)
    baseline = np.ones(len(values), dtype=bool)
    if fix_after_n_points is not None:
        baseline = position < fix_after_n_points
    n = np.bincount(segments, weights=baseline, minlength=n_segments)
    mean = np.bincount(segments, weights=np.where(baseline, values, 0.0), minlength=n_segments) / n

    # A moving range belongs to the later point and needs both points in the same baseline.
    has_range = np.r_[False, (position[1:] > 0) & baseline[1:]] if len(values) else baseline
    moving_range = np.abs(np.diff(values, prepend=np.nan))
    amr = _segment_mean(moving_range, has_range, segments, n_segments)
    if screen_outliers:
        kept = has_range & (moving_range < MOVING_RANGE_LIMIT_FACTOR * amr[segments])
        amr = _segment_mean(moving_range, kept, segments, n_segments)
    spread = LIMIT_FACTOR * amr
    return SegmentLimits(
        mean=mean,
        lpl=mean - spread,
        upl=mean + spread,
        near_lpl=mean - NEAR_LIMIT_FRACTION * spread,
        near_upl=mean + NEAR_LIMIT_FRACTION * spread,
    )


def _segment_mean(
    values: FloatArray, include: NDArray[np.bool_], segments: NDArray[np.intp], n_segments: int
) -> FloatArray:
    totals = np.bincount(segments, weights=np.where(include, values, 0.0), minlength=n_segments)
    counts = np.bincount(segments, weights=include, minlength=n_segments)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(totals / counts, dtype=np.float64)
