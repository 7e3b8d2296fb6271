"""Funnel plots as Fingertips draws them: control limits and each area's significance."""

from joinedup.measures.stats.funnels.labels import (
    DSR_TOO_FEW_EVENTS,
    HIGH_95,
    HIGH_998,
    LOW_95,
    LOW_998,
    NOT_SIGNIFICANT,
)
from joinedup.measures.stats.funnels.means import (
    MeanFunnel,
    mean_funnel_limits,
    mean_funnel_significance,
)
from joinedup.measures.stats.funnels.proportions import (
    ProportionFunnel,
    proportion_funnel_limits,
    proportion_funnel_significance,
)
from joinedup.measures.stats.funnels.rates import (
    RateFunnel,
    rate_funnel_limits,
    rate_funnel_points,
    rate_funnel_significance,
)
from joinedup.measures.stats.funnels.ratios import (
    RatioFunnel,
    ratio_funnel_limits,
    ratio_funnel_significance,
)

__all__ = [
    "DSR_TOO_FEW_EVENTS",
    "HIGH_95",
    "HIGH_998",
    "LOW_95",
    "LOW_998",
    "NOT_SIGNIFICANT",
    "MeanFunnel",
    "ProportionFunnel",
    "RateFunnel",
    "RatioFunnel",
    "mean_funnel_limits",
    "mean_funnel_significance",
    "proportion_funnel_limits",
    "proportion_funnel_significance",
    "rate_funnel_limits",
    "rate_funnel_points",
    "rate_funnel_significance",
    "ratio_funnel_limits",
    "ratio_funnel_significance",
]
