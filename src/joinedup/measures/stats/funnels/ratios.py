"""Funnel-plot control limits and significance for ratios of observed to expected events.

Limits are drawn against observed events O (100 axis points spanning the expected counts):
the 95% lower limit is O / E where E is the expected count at which O is just significantly
high at p = 0.025 (and so on for 99.8%, p = 0.001). Ratios are reported as O/E - 1
(``ratio_type="count"``) or 100 O/E (``"isr"``). A point's significance compares the benchmark
ratio 1 with its own exact (< 10 events) or Byar's interval, as ``isratio_ci`` computes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from joinedup.measures.stats.funnels.axis import axis_points, axis_range
from joinedup.measures.stats.funnels.labels import significance_labels
from joinedup.measures.stats.funnels.poisson_inverse import FUNNEL_LINES, poisson_funnel_mean
from joinedup.measures.stats.interval import FloatArray, as_float_array
from joinedup.measures.stats.isr import isratio_ci

RatioType = Literal["count", "isr"]


@dataclass(frozen=True)
class RatioFunnel:
    """Per observed-events axis point: the expected events on each limit and the limit."""

    observed_events: FloatArray
    lower_95_expected: FloatArray
    upper_95_expected: FloatArray
    lower_998_expected: FloatArray
    upper_998_expected: FloatArray
    lower_95: FloatArray
    upper_95: FloatArray
    lower_998: FloatArray
    upper_998: FloatArray


def _scale(ratio: FloatArray, ratio_type: RatioType) -> FloatArray:
    if ratio_type == "count":
        return ratio - 1.0
    if ratio_type == "isr":
        return ratio * 100.0
    raise ValueError(f"ratio_type must be 'count' or 'isr'; got {ratio_type!r}")


def _inputs(observed: ArrayLike, expected: ArrayLike) -> tuple[FloatArray, FloatArray]:
    obs = np.atleast_1d(as_float_array(observed, "observed"))
    exp = np.atleast_1d(as_float_array(expected, "expected"))
    if np.isnan(obs).any() or np.isnan(exp).any():
        raise ValueError("funnel inputs contain NA; drop those rows first")
    if np.any(obs < 0) or np.any(exp <= 0):
        raise ValueError("observed counts must be 0 or more and expected counts above 0")
    return obs, exp


def ratio_funnel_limits(
    observed: ArrayLike, expected: ArrayLike, *, ratio_type: RatioType = "isr"
) -> RatioFunnel:
    _, exp = _inputs(observed, expected)
    events = axis_points(*axis_range(exp), shift=1)
    expected_at = {
        name: poisson_funnel_mean(events, tail, side) for name, tail, side in FUNNEL_LINES
    }
    limit = {name: _scale(events / value, ratio_type) for name, value in expected_at.items()}
    return RatioFunnel(
        observed_events=events,
        lower_95_expected=expected_at["lower_95"],
        upper_95_expected=expected_at["upper_95"],
        lower_998_expected=expected_at["lower_998"],
        upper_998_expected=expected_at["upper_998"],
        lower_95=limit["lower_95"],
        upper_95=limit["upper_95"],
        lower_998=limit["lower_998"],
        upper_998=limit["upper_998"],
    )


def ratio_funnel_significance(observed: ArrayLike, expected: ArrayLike) -> NDArray[np.str_]:
    """Label each ratio O/E against the benchmark 1 at 95% and 99.8%."""
    obs, exp = _inputs(observed, expected)
    return poisson_significance(obs, exp, benchmark=1.0)


def poisson_significance(
    observed: FloatArray, denominator: FloatArray, *, benchmark: float
) -> NDArray[np.str_]:
    """Compare ``benchmark`` with each count's interval divided by its denominator."""
    _, low_95, high_95 = isratio_ci(observed, denominator, 0.95)
    _, low_998, high_998 = isratio_ci(observed, denominator, 0.998)
    # A count of 0 has no lower limit: it can never be significantly high.
    low_95, low_998 = (np.where(observed == 0, 0.0, limit) for limit in (low_95, low_998))
    return significance_labels(
        high_998=benchmark < low_998,
        high_95=benchmark < low_95,
        low_998=benchmark > high_998,
        low_95=benchmark > high_95,
        low_first=False,
    )
