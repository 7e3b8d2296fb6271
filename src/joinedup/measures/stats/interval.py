"""The result shape every estimator returns: a value with its lower and upper limit."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


class Interval(NamedTuple):
    """An estimate and its confidence limits; unpacks as ``value, lower, upper``.

    Each field is a float when every input was a scalar, otherwise a float64 array (NaN = NA).
    """

    value: Any
    lower: Any
    upper: Any


def as_float_array(values: ArrayLike, name: str) -> FloatArray:
    """Convert input to float64, with None/NA as NaN, and a clear error for anything else."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numbers (NA as None or NaN): {exc}") from exc
    return array


def make_interval(
    value: FloatArray, lower: FloatArray, upper: FloatArray, *, scalar: bool
) -> Interval:
    """Package arrays as an :class:`Interval`; one-element arrays become floats for scalar input."""
    if scalar:
        return Interval(float(value[0]), float(lower[0]), float(upper[0]))
    return Interval(value, lower, upper)


def all_scalar(*values: ArrayLike) -> bool:
    return all(np.ndim(v) == 0 for v in values)
