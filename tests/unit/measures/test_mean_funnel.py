"""Mean funnels (normal approximation, Spiegelhalter 2005), worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from joinedup.measures import stats


def test_limits_sit_around_the_count_weighted_mean_with_the_pooled_sd() -> None:
    count, mean, sd = [10, 40, 50], [4.0, 5.0, 6.0], [2.0, 3.0, 1.0]
    funnel = stats.mean_funnel_limits(count, mean, sd)
    # (10*4 + 40*5 + 50*6) / 100 = 5.4; pooled variance (9*4 + 39*9 + 49*1) / 97 = 4.4948...
    assert funnel.target == pytest.approx(5.4)
    assert funnel.pooled_sd == pytest.approx(math.sqrt((9 * 4 + 39 * 9 + 49 * 1) / 97))
    at = funnel.count
    spread = funnel.pooled_sd / np.sqrt(at)
    assert np.allclose(funnel.upper_95, 5.4 + 1.959964 * spread, atol=1e-5)
    assert np.allclose(funnel.lower_998, 5.4 - 3.090232 * spread, atol=1e-5)
    assert np.all(np.diff(funnel.upper_95) <= 0)  # the funnel narrows as counts grow


def test_significance_uses_each_areas_own_count() -> None:
    count = [100, 100, 100, 100]
    sd = [1.0, 1.0, 1.0, 1.0]
    # target 5.0, pooled sd 1, limits at n = 100: 5 +/- 0.196 (95%) and +/- 0.309 (99.8%)
    mean = [5.25, 4.5, 5.1, 5.15]
    labels = stats.mean_funnel_significance(count, mean, sd)
    assert list(labels) == ["High (0.025)", "Low (0.001)", "Not significant", "Not significant"]


def test_areas_without_a_spread_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 2 units"):
        stats.mean_funnel_limits([1, 5], [3.0, 4.0], [0.0, 1.0])


def test_standard_deviation_per_group_matches_numpy() -> None:
    values = np.array([1.0, 2.0, 4.0, 10.0, 10.0, 13.0])
    groups = np.array(["b", "b", "b", "a", "a", "a"])
    sd = stats.standard_deviation(values, group=groups)
    assert sd == pytest.approx([np.std([10, 10, 13], ddof=1), np.std([1, 2, 4], ddof=1)])
