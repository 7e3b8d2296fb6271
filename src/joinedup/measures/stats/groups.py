"""Row-to-group assignment so that estimators summarise whole frames without Python loops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from joinedup.measures.stats.interval import FloatArray, as_float_array


@dataclass(frozen=True)
class Groups:
    """Which group each row belongs to: ``keys`` (sorted, unique) and per-row ``codes``."""

    keys: NDArray[Any]
    codes: NDArray[np.intp]

    @classmethod
    def of(cls, labels: ArrayLike | Groups | None, n_rows: int) -> Groups:
        """Group rows by label; ``None`` puts every row in one group (key ``None``).

        An existing :class:`Groups` is reused as it is, so that several estimates over the
        same rows pay for the grouping (a sort) once.
        """
        if isinstance(labels, Groups):
            if len(labels.codes) != n_rows:
                raise ValueError(f"the groups cover {len(labels.codes)} rows, not {n_rows}")
            return labels
        if labels is None:
            return cls(np.array([None], dtype=object), np.zeros(n_rows, dtype=np.intp))
        values = np.asarray(labels)
        if values.shape != (n_rows,):
            raise ValueError(f"group labels must be one per row ({n_rows}); got {values.shape}")
        if values.dtype != object and n_rows > 0 and np.all(values[1:] >= values[:-1]):
            # Rows already in group order (as SQL ORDER BY gives them): no sort needed.
            starts = np.r_[True, values[1:] != values[:-1]]
            return cls(values[starts], (np.cumsum(starts) - 1).astype(np.intp))
        keys, codes = np.unique(values, return_inverse=True)
        return cls(keys, codes.astype(np.intp))

    @property
    def size(self) -> int:
        return len(self.keys)

    def sum(self, values: ArrayLike, name: str = "values") -> FloatArray:
        """Per-group sum; NaN in any row of a group makes that group's sum NaN."""
        array = as_float_array(values, name)
        return np.bincount(self.codes, weights=array, minlength=self.size).astype(np.float64)

    def count(self) -> NDArray[np.intp]:
        return np.bincount(self.codes, minlength=self.size)
