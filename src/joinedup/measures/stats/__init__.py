"""Fingertips / PHEindicatormethods statistics, vectorised over numpy arrays.

Every estimator returns an :class:`Interval` (``value, lower, upper``): floats for scalar
input, float64 arrays otherwise, NaN for NA.
"""

from joinedup.measures.stats.confidence import confidence_fraction, two_sided_z
from joinedup.measures.stats.dsr import dsr_ci, nonindependent_count_variance
from joinedup.measures.stats.funnels import (
    mean_funnel_limits,
    mean_funnel_significance,
    proportion_funnel_limits,
    proportion_funnel_significance,
    rate_funnel_limits,
    rate_funnel_points,
    rate_funnel_significance,
    ratio_funnel_limits,
    ratio_funnel_significance,
)
from joinedup.measures.stats.groups import Groups
from joinedup.measures.stats.inequality import InequalityIndex, slope_index_of_inequality
from joinedup.measures.stats.interval import Interval
from joinedup.measures.stats.isr import expected_events, israte_ci, isratio_ci
from joinedup.measures.stats.life_expectancy import LifeExpectancy, life_expectancy
from joinedup.measures.stats.means import mean_ci, standard_deviation
from joinedup.measures.stats.poisson import (
    byars_lower,
    byars_upper,
    count_limits,
    exact_lower,
    exact_upper,
)
from joinedup.measures.stats.populations import ESP2013, ESP2013_AGE_BANDS, esp2013_weights
from joinedup.measures.stats.proportions import proportion_ci, wilson_limits
from joinedup.measures.stats.quantiles import quantiles
from joinedup.measures.stats.rates import rate_ci

__all__ = [
    "ESP2013",
    "ESP2013_AGE_BANDS",
    "Groups",
    "InequalityIndex",
    "Interval",
    "LifeExpectancy",
    "byars_lower",
    "byars_upper",
    "confidence_fraction",
    "count_limits",
    "dsr_ci",
    "esp2013_weights",
    "exact_lower",
    "exact_upper",
    "expected_events",
    "israte_ci",
    "isratio_ci",
    "life_expectancy",
    "mean_ci",
    "mean_funnel_limits",
    "mean_funnel_significance",
    "nonindependent_count_variance",
    "proportion_ci",
    "proportion_funnel_limits",
    "proportion_funnel_significance",
    "quantiles",
    "rate_ci",
    "rate_funnel_limits",
    "rate_funnel_points",
    "rate_funnel_significance",
    "ratio_funnel_limits",
    "ratio_funnel_significance",
    "slope_index_of_inequality",
    "standard_deviation",
    "two_sided_z",
    "wilson_limits",
]
