"""Behaviour of the statistics API beyond the reference cases: shapes, NA, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2

from joinedup.measures.stats import (
    ESP2013,
    Groups,
    Interval,
    dsr_ci,
    esp2013_weights,
    mean_ci,
    proportion_ci,
    quantiles,
    rate_ci,
    two_sided_z,
)


def test_scalars_in_give_floats_out_and_unpack_as_three() -> None:
    result = proportion_ci(65, 100)
    assert isinstance(result, Interval)
    value, lower, upper = result
    assert all(isinstance(x, float) for x in (value, lower, upper))
    assert lower < value < upper


def test_arrays_in_give_arrays_out() -> None:
    value, lower, upper = rate_ci(np.array([1, 50, 900]), np.array([1000, 1000, 1000]))
    assert isinstance(value, np.ndarray) and value.shape == (3,)
    np.testing.assert_allclose(value, [100.0, 5000.0, 90000.0])
    assert np.all(lower < value) and np.all(value < upper)


def test_na_in_gives_na_out_without_affecting_other_rows() -> None:
    value, lower, upper = proportion_ci([5, None, 7], [10, 10, None])
    assert not math.isnan(value[0])
    assert np.isnan(value[1:]).all() and np.isnan(lower[1:]).all() and np.isnan(upper[1:]).all()


def test_percent_confidence_means_the_same_as_a_fraction() -> None:
    assert proportion_ci(3, 40, 99.8) == proportion_ci(3, 40, 0.998)
    assert two_sided_z(0.95) == pytest.approx(1.959963984540054)


@pytest.mark.parametrize("confidence", [0, 1, 100, 120, -0.5])
def test_bad_confidence_is_a_clear_error(confidence: float) -> None:
    with pytest.raises(ValueError, match="confidence must be"):
        rate_ci(5, 100, confidence)


@pytest.mark.parametrize(
    ("numerator", "denominator", "message"),
    [(11, 10, "larger than its denominator"), (-1, 10, "0 or more"), (1, 0, "greater than 0")],
)
def test_bad_proportions_are_clear_errors(numerator: int, denominator: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        proportion_ci(numerator, denominator)


def test_rates_switch_from_exact_to_byars_at_ten_events() -> None:
    _, exact_lower, _ = rate_ci(9, 1000, per=1)
    _, byars_lower, _ = rate_ci(10, 1000, per=1)
    # Exact limit for 9: chi2(0.025; 18) / 2; Byar's for 10 from its closed form.
    assert exact_lower * 1000 == pytest.approx(chi2.ppf(0.025, 18) / 2, rel=1e-10)
    z = two_sided_z(0.95)
    assert byars_lower * 1000 == pytest.approx(10 * (1 - 1 / 90 - z / (3 * math.sqrt(10))) ** 3)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(1, 10_000)).map(
            lambda t: (min(t), max(t[1], 1))
        ),
        min_size=1,
        max_size=30,
    )
)
def test_vectorised_proportions_equal_one_at_a_time(pairs: list[tuple[int, int]]) -> None:
    numerators, denominators = zip(*pairs, strict=True)
    together = proportion_ci(list(numerators), list(denominators))
    for i, (numerator, denominator) in enumerate(pairs):
        alone = proportion_ci(numerator, denominator)
        assert together.lower[i] == pytest.approx(alone.lower, rel=1e-12, abs=1e-15)
        assert together.upper[i] == pytest.approx(alone.upper, rel=1e-12, abs=1e-15)
        # Equality at 0 or n can be off by one rounding step.
        assert together.lower[i] <= together.value[i] + 1e-12
        assert together.value[i] <= together.upper[i] + 1e-12


def test_dsr_groups_come_back_in_sorted_label_order_and_small_totals_are_suppressed() -> None:
    bands = len(ESP2013)
    counts = np.r_[np.full(bands, 10.0), np.zeros(bands)]
    counts[bands] = 9  # group "a": 9 events in total -> suppressed
    labels = ["b"] * bands + ["a"] * bands
    value, lower, upper = dsr_ci(counts, np.full(2 * bands, 1000.0), ESP2013 * 2, group=labels)
    assert np.isnan([value[0], lower[0], upper[0]]).all()
    assert value[1] == pytest.approx(1000.0)  # 10 per 1,000 in every band = 1,000 per 100,000
    assert lower[1] < value[1] < upper[1]


def test_esp2013_weights_by_age() -> None:
    np.testing.assert_array_equal(esp2013_weights(np.array([0, 4, 5, 89, 90, 104])),
                                  [5000, 5000, 5500, 1500, 1000, 1000])  # fmt: skip
    with pytest.raises(ValueError, match="ages must be 0 or more"):
        esp2013_weights(np.array([-1]))


def test_mean_of_a_single_value_has_no_interval() -> None:
    value, lower, upper = mean_ci([4.0, 2.0, 6.0], group=["x", "y", "y"])
    assert value[0] == 4.0 and np.isnan(lower[0]) and np.isnan(upper[0])
    assert value[1] == 4.0 and lower[1] < 4.0 < upper[1]


def test_quantiles_need_enough_areas_and_put_highest_first_by_default() -> None:
    values = np.arange(1.0, 11.0)
    np.testing.assert_array_equal(quantiles(values, 5), [5, 5, 4, 4, 3, 3, 2, 2, 1, 1])
    np.testing.assert_array_equal(
        quantiles(values, 5, invert=False), [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    )
    assert np.isnan(quantiles(values[:4], 5)).all()
    with pytest.raises(ValueError, match="nquantiles"):
        quantiles(values, 0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(-3, 3), min_size=1, max_size=40), st.booleans())
def test_grouping_of_presorted_rows_matches_a_full_sort(labels: list[int], presort: bool) -> None:
    values = np.sort(labels) if presort else np.asarray(labels)
    grouped = Groups.of(values, len(values))
    keys, codes = np.unique(values, return_inverse=True)
    np.testing.assert_array_equal(grouped.keys, keys)
    np.testing.assert_array_equal(grouped.codes, codes)
