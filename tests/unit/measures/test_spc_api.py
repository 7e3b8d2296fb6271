"""Behaviour of the XmR chart API beyond the reference cases."""

from __future__ import annotations

import numpy as np
import pytest

from joinedup.measures.spc import xmr_chart

DATES = np.arange("2024-01-01", "2024-01-21", dtype="datetime64[D]")
VALUES = np.array([5, 6, 5, 7, 6, 5, 6, 7, 5, 6, 6, 5, 7, 6, 5, 6, 5, 7, 6, 20], dtype=float)


def test_input_order_does_not_matter() -> None:
    shuffled = np.random.default_rng(7).permutation(len(VALUES))
    ordered = xmr_chart(VALUES, DATES)
    mixed = xmr_chart(VALUES[shuffled], DATES[shuffled])
    np.testing.assert_array_equal(ordered.points.value, mixed.points.value)
    np.testing.assert_array_equal(ordered.points.point_type, mixed.points.point_type)
    np.testing.assert_array_equal(VALUES[shuffled][mixed.points.order], mixed.points.value)


def test_last_point_above_the_limit_is_improvement_when_higher_is_better() -> None:
    chart = xmr_chart(VALUES, DATES, improvement_direction="increase", target=30)
    assert chart.points.special_cause_type[-1] == "Above UCL"
    [summary] = chart.summaries
    assert summary.variation_icon == "improvement_high"
    assert summary.assurance_icon == "fail"  # the target is above the upper limit


def test_lower_is_better_turns_it_into_concern() -> None:
    [summary] = xmr_chart(VALUES, DATES, improvement_direction="decrease").summaries
    assert summary.variation_type == "special_cause_concern"
    assert summary.variation_icon == "concern_high"


def test_rebase_per_facet_and_shared_target() -> None:
    facets = np.repeat(["north", "south"], 10)
    chart = xmr_chart(
        VALUES, np.r_[DATES[:10], DATES[:10]], facets=facets, rebase={"south": ["2024-01-06"]}
    )
    groups = {(s.facet, s.rebase_group): s.n for s in chart.summaries}
    assert groups == {("north", 0): 10, ("south", 0): 5, ("south", 1): 5}
    assert all(chart.points.short_group_warning)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"improvement_direction": "up"}, "improvement_direction must be one of"),
        ({"fix_after_n_points": 1}, "fix_after_n_points must be at least 2"),
    ],
)
def test_bad_settings_are_clear_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        xmr_chart(VALUES, DATES, **kwargs)  # type: ignore[arg-type]


def test_bad_data_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        xmr_chart([], [])
    with pytest.raises(ValueError, match="contain NA"):
        xmr_chart([1.0, np.nan, 3.0], DATES[:3])
    with pytest.raises(ValueError, match="appears twice"):
        xmr_chart([1.0, 2.0, 3.0], [DATES[0], DATES[0], DATES[1]])
    with pytest.raises(ValueError, match="must be dates"):
        xmr_chart([1.0, 2.0], ["yesterday", "today"])
    with pytest.raises(ValueError, match="same length"):
        xmr_chart([1.0, 2.0], DATES[:3])
