"""Expected counts at which an observed count sits exactly on a Poisson control limit.

For observed O and tail probability p, find the Poisson mean m with P(X >= O | m) = p (the
"low" side: the smallest mean still consistent with O) or P(X <= O | m) = p (the "high"
side). As in the Fingertips funnel macro (PHEindicatormethods 2.1 ``poisson_funnel``), m is
searched as m = (1 + O) v / (1 - v) by bisection on v in (0, 1), halving the step from 0.5
until it is below 1e-7, for every O at once. Tail probabilities come from the regularised
incomplete gamma function; the reference sums the Poisson series instead, which can move the
7th significant figure (its README allows relative 1e-6).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import pdtr, pdtrc

from joinedup.measures.stats.interval import FloatArray, as_float_array

STEP_STOP = 1e-7
TAIL_95 = 0.025
TAIL_998 = 0.001

Side = Literal["low", "high"]
# (limit, tail probability, side of the inverse): a lower control limit at O events is where O
# would be just significantly high, i.e. the mean on the "high" side of O.
FUNNEL_LINES: tuple[tuple[str, float, Side], ...] = (
    ("lower_95", TAIL_95, "high"),
    ("upper_95", TAIL_95, "low"),
    ("lower_998", TAIL_998, "high"),
    ("upper_998", TAIL_998, "low"),
)


def poisson_funnel_mean(observed: ArrayLike, tail_probability: float, side: Side) -> FloatArray:
    """The Poisson mean putting each observed count on the ``side`` control limit."""
    obs = np.atleast_1d(as_float_array(observed, "observed"))
    v = np.full(obs.shape, 0.5)
    step = 0.5
    while step > STEP_STOP:
        step /= 2.0
        mean = (1.0 + obs) * v / (1.0 - v)
        if side == "low":
            # P(X >= O) = P(X > O - 1); equals 1 when O = 0.
            tail = np.where(obs > 0, pdtrc(obs - 1.0, mean), 1.0)
            v = np.where(tail > tail_probability, v - step, v + step)
        else:
            tail = pdtr(obs, mean)
            v = np.where(tail < tail_probability, v - step, v + step)
    return np.asarray((1.0 + obs) * v / (1.0 - v), dtype=np.float64)
