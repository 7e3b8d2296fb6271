"""Slope and relative index of inequality (SII, RII) with simulated confidence limits.

Low & Low, "Measuring the gap: quantifying and comparing local health inequalities",
J Public Health 2004;26:388-395; OHID technical guide "Slope index of inequality", as
PHEindicatormethods 2.1 ``phe_sii`` applies it:

* each quantile's share of the population a_i and the midpoint b_i of its cumulative share;
* weighted least squares of y_i on (1, b_i) with weights a_i (fitted as y sqrt(a) on sqrt(a)
  and b sqrt(a)): intercept c, slope s;
* SII = s x multiplier and RII = (c + s) / c; with ``transform`` the fit is on the log (rates)
  or logit (proportions) scale and SII = g(c + s) - g(c), RII = g(c + s) / g(c), g the inverse
  transform. A negative multiplier flips the polarity: the RII is inverted.
* confidence limits by simulation: each quantile's value is drawn ``repetitions`` times from a
  normal distribution with its standard error (on the log / logit scale for rates /
  proportions, back-transformed unless the fit itself is transformed), the fit repeated, and the
  limits read at the (1 - confidence) / 2 and (1 + confidence) / 2 positions of the sorted
  results. Standard errors may come from 95% limits: se = (upper - lower) / (2 x 1.959964),
  with the limits transformed first for rates and proportions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from joinedup.measures.stats.confidence import confidence_fraction, two_sided_z
from joinedup.measures.stats.groups import Groups
from joinedup.measures.stats.interval import FloatArray, as_float_array

ValueType = Literal["normal", "rate", "proportion"]
SIMULATION_CELLS = 4_000_000  # draws held in memory at once (groups x repetitions x quantiles)


@dataclass(frozen=True)
class InequalityIndex:
    """One entry per group (sorted label order). RII fields are NaN when not requested."""

    sii: FloatArray
    sii_lower: FloatArray
    sii_upper: FloatArray
    rii: FloatArray
    rii_lower: FloatArray
    rii_upper: FloatArray
    intercept: FloatArray


def _forward(values: FloatArray, value_type: ValueType) -> FloatArray:
    if value_type == "rate":
        return np.log(values)
    if value_type == "proportion":
        return np.log(values / (1.0 - values))
    return values


def _inverse(values: FloatArray, value_type: ValueType) -> FloatArray:
    if value_type == "rate":
        return np.exp(values)
    if value_type == "proportion":
        # 1 / (1 + exp(-x)) in one array, step by step: the simulation calls it on millions
        # of draws, and the temporaries cost more than the arithmetic.
        result = np.negative(values)
        np.exp(result, out=result)
        result += 1.0
        return np.divide(1.0, result, out=result)
    return values


def _fit(y: FloatArray, sqrt_a: FloatArray, projector: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Intercept and slope of the weighted fit; y is groups x quantiles or groups x draws x
    quantiles, ``projector`` the groups x 2 x quantiles matrix (X'X)^-1 X'."""
    weighted = y * sqrt_a
    if weighted.ndim == 2:
        coefficients = np.einsum("gkq,gq->gk", projector, weighted)
    else:
        coefficients = weighted @ projector.transpose(0, 2, 1)  # groups x draws x 2
    return coefficients[..., 0], coefficients[..., 1]


def _indices(
    intercept: FloatArray,
    slope: FloatArray,
    value_type: ValueType,
    transform: bool,
    multiplier: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(SII, RII, intercept on the value scale) from fitted coefficients."""
    if transform:
        low, high = _inverse(intercept, value_type), _inverse(intercept + slope, value_type)
        sii, rii, level = (high - low) * multiplier, high / low, low
    else:
        sii, rii, level = slope * multiplier, (intercept + slope) / intercept, intercept
    if multiplier < 0:
        rii = 1.0 / rii
    return sii, rii, level


def slope_index_of_inequality(
    quantile: ArrayLike,
    population: ArrayLike,
    value: ArrayLike,
    *,
    group: ArrayLike | Groups | None = None,
    se: ArrayLike | None = None,
    lower_cl: ArrayLike | None = None,
    upper_cl: ArrayLike | None = None,
    value_type: ValueType = "normal",
    transform: bool = False,
    multiplier: float = 1.0,
    confidence: float = 0.95,
    repetitions: int = 100_000,
    rii: bool = False,
    seed: int | np.random.Generator | None = None,
) -> InequalityIndex:
    """SII (and RII) per group from one row per (group, quantile); every group needs every
    quantile. Give ``se`` or the 95% ``lower_cl`` / ``upper_cl`` of each value.
    """
    # Numbers, so that quantile 10 sorts after quantile 2.
    quantiles = np.atleast_1d(as_float_array(quantile, "quantile"))
    pop = np.atleast_1d(as_float_array(population, "population"))
    values = np.atleast_1d(as_float_array(value, "value"))
    groups = Groups.of(group, len(values))
    if value_type not in ("normal", "rate", "proportion"):
        raise ValueError("value_type must be 'normal', 'rate' or 'proportion'")
    if repetitions < 1000:
        raise ValueError("repetitions must be 1000 or more (100,000 is the default)")
    if np.any(~(pop > 0)):
        raise ValueError("every quantile needs a population greater than 0")
    if se is not None:
        spread = np.atleast_1d(as_float_array(se, "se"))
    elif lower_cl is not None and upper_cl is not None:
        lower = _forward(np.atleast_1d(as_float_array(lower_cl, "lower_cl")), value_type)
        upper = _forward(np.atleast_1d(as_float_array(upper_cl, "upper_cl")), value_type)
        spread = (upper - lower) / (2.0 * two_sided_z(0.95))  # input limits are 95% limits
    else:
        raise ValueError("give se, or both lower_cl and upper_cl, for every quantile")
    if np.isnan(values).any() or np.isnan(spread).any() or np.any(spread < 0):
        raise ValueError("values and standard errors must be present and not negative")

    levels = np.unique(quantiles)
    n_quantiles = len(levels)
    if not 5 <= n_quantiles <= 100:
        raise ValueError("the number of quantiles must be between 5 and 100")
    if np.any(groups.count() != n_quantiles):
        raise ValueError("every group needs exactly one row for each quantile")
    order = np.lexsort((quantiles, groups.codes))
    shape = (groups.size, n_quantiles)
    pop, values, spread = (a[order].reshape(shape) for a in (pop, values, spread))
    if not np.array_equal(quantiles[order].reshape(shape), np.broadcast_to(levels, shape)):
        raise ValueError("every group needs exactly one row for each quantile")

    share = pop / pop.sum(axis=1, keepdims=True)
    midpoint = np.cumsum(share, axis=1) - share / 2.0
    sqrt_a = np.sqrt(share)
    design = np.stack([sqrt_a, midpoint * sqrt_a], axis=1)  # g x 2 x q
    projector = np.linalg.solve(design @ design.transpose(0, 2, 1), design)  # (X'X)^-1 X'

    fit_scale = _forward(values, value_type) if transform else values
    point = _indices(*_fit(fit_scale, sqrt_a, projector), value_type, transform, multiplier)

    rng = np.random.default_rng(seed)
    level = confidence_fraction(confidence)
    # Positions as the reference takes them: round(R (1 - c')) and round(R c'), 1-based.
    upper_share = level + (1.0 - level) / 2.0
    low_at = int(np.round(repetitions * (1.0 - upper_share))) - 1
    high_at = int(np.round(repetitions * upper_share)) - 1
    limits = np.full((4, groups.size), np.nan)
    chunk = max(1, SIMULATION_CELLS // (repetitions * n_quantiles))
    centre = _forward(values, value_type)
    for start in range(0, groups.size, chunk):  # bounded memory, vectorised within a chunk
        part = slice(start, start + chunk)
        draws = rng.standard_normal((len(centre[part]), repetitions, n_quantiles))
        draws *= spread[part, None, :]
        draws += centre[part, None, :]
        if not transform:
            draws = _inverse(draws, value_type)
        sims = _indices(
            *_fit(draws, sqrt_a[part, None, :], projector[part]),
            value_type,
            transform,
            multiplier,
        )
        for row, simulated in enumerate(sims[: 2 if rii else 1]):
            ranked = np.partition(simulated, (low_at, high_at), axis=1)
            limits[2 * row, part] = ranked[:, low_at]
            limits[2 * row + 1, part] = ranked[:, high_at]

    nan = np.full(groups.size, np.nan)
    return InequalityIndex(
        sii=point[0],
        sii_lower=limits[0],
        sii_upper=limits[1],
        rii=point[1] if rii else nan,
        rii_lower=limits[2] if rii else nan,
        rii_upper=limits[3] if rii else nan,
        intercept=point[2],
    )
