"""The Making Data Count special-cause rules, vectorised over many series at once.

Every function takes ``segments``: one integer per point naming the series segment it belongs
to (facet x rebase group), with each segment's points contiguous and in date order. Runs and
windows never cross a segment boundary. Rules (NHS England, "Making Data Count: strengthening
your decisions", 2019; NHSRplotthedots 0.2.2):

* shift: 7 consecutive points on the same side of the mean (a point on the mean breaks it);
* trend: 7 consecutive points each strictly higher (or lower) than the one before;
* two in three: 2 of 3 consecutive points between the 2- and 3-sigma lines on the same side.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

RUN_LENGTH = 7

IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]


def _window_within_segment(segments: IntArray, width: int) -> BoolArray:
    """True at i when points i-width+1 .. i exist and share i's segment."""
    ok = np.zeros(len(segments), dtype=bool)
    if len(segments) >= width:
        ok[width - 1 :] = segments[: len(segments) - width + 1] == segments[width - 1 :]
    return ok


def _windows(values: NDArray[Any], width: int) -> NDArray[Any]:
    """Trailing windows: row i holds values i-width+1 .. i (rows before width-1 are padding)."""
    padded = np.concatenate([np.repeat(values[:1], width - 1), values]) if len(values) else values
    return np.lib.stride_tricks.sliding_window_view(padded, width)


def shift_run_end(signs: NDArray[np.integer], segments: IntArray) -> BoolArray:
    """True at the 7th (and every later) point of a run of equal non-zero signs."""
    if len(signs) == 0:
        return np.zeros(0, dtype=bool)
    windows = _windows(np.asarray(signs), RUN_LENGTH)
    same = np.all(windows == windows[:, -1:], axis=1) & (windows[:, -1] != 0)
    return np.asarray(same & _window_within_segment(segments, RUN_LENGTH), dtype=bool)


def trend_end(values: NDArray[np.floating], segments: IntArray) -> NDArray[np.int8]:
    """+1 / -1 at the 7th (and every later) point of a strictly rising / falling run."""
    result = np.zeros(len(values), dtype=np.int8)
    if len(values) < 2:
        return result
    step: NDArray[np.float64] = np.sign(np.diff(np.asarray(values, dtype=np.float64)))
    step_windows = _windows(step, RUN_LENGTH - 1)
    rising = np.all(step_windows > 0, axis=1)
    falling = np.all(step_windows < 0, axis=1)
    within = _window_within_segment(segments, RUN_LENGTH)[1:]
    result[1:] = np.where(rising & within, 1, np.where(falling & within, -1, 0))
    return result


def part_of_run(markers: NDArray[np.generic], segments: IntArray) -> BoolArray:
    """True when this point or one of the next 6 in its segment ends a run (non-zero marker)."""
    ends = np.asarray(markers) != 0
    flagged = ends.copy()
    n = len(ends)
    for ahead in range(1, RUN_LENGTH):
        if ahead >= n:
            break
        flagged[:-ahead] |= ends[ahead:] & (segments[ahead:] == segments[:-ahead])
    return flagged


def two_in_three_window(
    near_limits: BoolArray, signs: NDArray[np.integer], segments: IntArray
) -> BoolArray:
    """True for every point of a 3-point window with >= 2 near-limit points, all 3 on one side."""
    n = len(near_limits)
    flagged = np.zeros(n, dtype=bool)
    if n < 3:
        return flagged
    near = np.asarray(near_limits, dtype=bool)
    sign = np.asarray(signs)
    counts = near[:-2].astype(int) + near[1:-1] + near[2:]
    one_side = (sign[:-2] == sign[1:-1]) & (sign[1:-1] == sign[2:])
    window = (counts >= 2) & one_side & (segments[:-2] == segments[2:])
    for offset in range(3):
        flagged[offset : n - 2 + offset] |= window
    return flagged


def two_in_three_points(
    near_limits: BoolArray, signs: NDArray[np.integer], segments: IntArray
) -> BoolArray:
    """Only the near-limit points of a qualifying two-in-three window."""
    return two_in_three_window(near_limits, signs, segments) & np.asarray(near_limits, dtype=bool)
