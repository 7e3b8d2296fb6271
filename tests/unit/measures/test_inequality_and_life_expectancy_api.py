"""Input handling of the SII and life expectancy functions."""

from __future__ import annotations

import numpy as np
import pytest

from joinedup.measures.stats import life_expectancy, slope_index_of_inequality
from joinedup.measures.stats.life_expectancy import START_AGES

DECILES = np.arange(1, 11)
POPULATION = np.full(10, 1000.0)


def test_a_perfect_gradient_has_the_expected_sii_and_rii() -> None:
    # value = 10 + 5 x midpoint: equal populations put midpoints at 0.05, 0.15, ..., 0.95.
    value = 10 + 5 * (DECILES - 0.5) / 10
    result = slope_index_of_inequality(
        DECILES, POPULATION, value, se=np.full(10, 0.01), rii=True, repetitions=2000, seed=1
    )
    assert result.sii[0] == pytest.approx(5.0)
    assert result.rii[0] == pytest.approx(15.0 / 10.0)
    assert result.intercept[0] == pytest.approx(10.0)
    assert result.sii_lower[0] < 5.0 < result.sii_upper[0]


def test_same_seed_same_limits_and_groups_are_independent() -> None:
    labels = np.repeat(["a", "b"], 10)
    values = np.r_[DECILES * 1.0, DECILES[::-1] * 1.0]
    kwargs = {"se": np.full(20, 0.5), "repetitions": 2000, "seed": 3}
    first = slope_index_of_inequality(np.tile(DECILES, 2), np.tile(POPULATION, 2), values,
                                      group=labels, **kwargs)  # type: ignore[arg-type]  # fmt: skip
    again = slope_index_of_inequality(np.tile(DECILES, 2), np.tile(POPULATION, 2), values,
                                      group=labels, **kwargs)  # type: ignore[arg-type]  # fmt: skip
    np.testing.assert_array_equal(first.sii_lower, again.sii_lower)
    assert first.sii[0] == pytest.approx(-first.sii[1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give se, or both lower_cl and upper_cl"),
        ({"se": np.full(10, 0.1), "repetitions": 10}, "repetitions must be 1000 or more"),
        ({"se": np.full(10, 0.1), "value_type": "count"}, "value_type must be"),
    ],
)
def test_sii_input_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        slope_index_of_inequality(DECILES, POPULATION, DECILES * 1.0, **kwargs)  # type: ignore[arg-type]


def test_sii_needs_every_quantile_in_every_group() -> None:
    with pytest.raises(ValueError, match="exactly one row for each quantile"):
        slope_index_of_inequality(
            np.r_[DECILES, DECILES[:9]],
            np.ones(19),
            np.ones(19),
            group=["a"] * 10 + ["b"] * 9,
            se=np.full(19, 0.1),
        )


def test_life_expectancy_rejects_unknown_start_ages_and_flags_invalid_areas() -> None:
    with pytest.raises(ValueError, match="start ages must be among"):
        life_expectancy([0, 2], [100, 100], [1, 1])
    ages = np.asarray(START_AGES)
    small = life_expectancy(ages, np.full(len(ages), 100.0), np.full(len(ages), 1.0))
    assert np.isnan(small.value).all()  # a total population of 2,000 is too small
    large = life_expectancy(ages, np.full(len(ages), 10_000.0), np.linspace(1, 800, len(ages)))
    assert np.all(large.lower < large.value) and np.all(large.value < large.upper)
    assert np.all(np.diff(large.value) < 5)  # expectancy falls (roughly) with age
