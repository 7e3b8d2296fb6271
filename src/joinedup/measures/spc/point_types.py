"""Which special-cause rule each point triggers, and whether that is improvement or concern.

Rule precedence follows NHSRplotthedots 0.2.2: outside the limits, then trend, then two in
three, then shift. The reference labels a trend point's direction by the step to the next point
when that point is in a trend too, else by the step from the previous point; a tie with the next
point therefore reads as "Decreasing", which is kept here so that the output matches.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from joinedup.measures.spc.icons import Direction

ABOVE_UCL = "Above UCL"
BELOW_LCL = "Below LCL"
TREND_UP = "7 Point Trend (Increasing)"
TREND_DOWN = "7 Point Trend (Decreasing)"
TWO_IN_THREE_ABOVE = "2 in 3 Above CL"
TWO_IN_THREE_BELOW = "2 in 3 Below CL"
SHIFT_ABOVE = "7 Points Above CL"
SHIFT_BELOW = "7 Points Below CL"
COMMON_CAUSE = "Common Cause"

HIGH_TYPES = (ABOVE_UCL, TREND_UP, TWO_IN_THREE_ABOVE, SHIFT_ABOVE)


def trend_direction(
    values: NDArray[np.float64], in_trend: NDArray[np.bool_], segments: NDArray[np.intp]
) -> NDArray[np.int8]:
    """+1 where the reference calls a trend point Increasing, -1 where Decreasing.

    The step to the next point decides while that point is also in a trend; otherwise the step
    from the previous point. A tie with the next point reads as Decreasing (reference quirk).
    """
    n = len(values)
    step_up = np.full(n, np.nan)
    step_down = np.full(n, np.nan)
    if n > 1:
        same = segments[1:] == segments[:-1]
        difference = values[1:] - values[:-1]
        step_up[:-1] = np.where(same & in_trend[1:], difference, np.nan)
        step_down[1:] = np.where(same, difference, np.nan)
    step = np.where(np.isnan(step_up), step_down, step_up)
    return np.where(step > 0, 1, -1).astype(np.int8)


def special_cause_types(
    *,
    outside: NDArray[np.bool_],
    signs: NDArray[np.integer],
    in_trend: NDArray[np.bool_],
    direction: NDArray[np.int8],
    in_two_in_three: NDArray[np.bool_],
    in_shift: NDArray[np.bool_],
) -> NDArray[np.str_]:
    above = signs > 0
    return np.select(
        [outside, in_trend, in_two_in_three, in_shift],
        [
            np.where(above, ABOVE_UCL, BELOW_LCL),
            np.where(direction > 0, TREND_UP, TREND_DOWN),
            np.where(above, TWO_IN_THREE_ABOVE, TWO_IN_THREE_BELOW),
            np.where(above, SHIFT_ABOVE, SHIFT_BELOW),
        ],
        default=COMMON_CAUSE,
    )


def point_types(
    special_cause_type: NDArray[np.str_], improvement_direction: Direction
) -> NDArray[np.str_]:
    high = np.isin(special_cause_type, HIGH_TYPES)
    common = special_cause_type == COMMON_CAUSE
    if improvement_direction == "neutral":
        special = np.where(high, "special_cause_neutral_high", "special_cause_neutral_low")
    else:
        good_is_high = improvement_direction == "increase"
        special = np.where(
            high == good_is_high, "special_cause_improvement", "special_cause_concern"
        )
    return np.where(common, "common_cause", special)
