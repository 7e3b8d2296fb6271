"""Standard populations for direct age standardisation."""

from __future__ import annotations

import numpy as np

# European Standard Population 2013, 19 five-year bands (0-4, 5-9, ..., 85-89, 90+), summing to
# 100,000. Source: Eurostat, "Revision of the European Standard Population: report of Eurostat's
# task force", Methodologies and Working papers, 2013 edition, table 3.1 (the 0 and 1-4 bands
# merged and the 90-94 and 95+ bands merged, as Fingertips and ONS use it).
ESP2013_AGE_BANDS: tuple[str, ...] = (
    "0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49",
    "50-54", "55-59", "60-64", "65-69", "70-74", "75-79", "80-84", "85-89", "90+",
)  # fmt: skip
ESP2013: tuple[int, ...] = (
    5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000,
    7000, 6500, 6000, 5500, 5000, 4000, 2500, 1500, 1000,
)  # fmt: skip
ESP2013_AGE_STARTS: tuple[int, ...] = tuple(range(0, 95, 5))


def esp2013_band_index(age: np.ndarray) -> np.ndarray:
    """The ESP 2013 band (0-18) of each age in whole years; 90 and over fall in the last band."""
    ages = np.asarray(age)
    if np.any(ages < 0):
        raise ValueError("ages must be 0 or more")
    return np.minimum(ages // 5, len(ESP2013) - 1).astype(np.intp)


def esp2013_weights(age: np.ndarray) -> np.ndarray:
    """The ESP 2013 standard population of the band each age falls in."""
    return np.asarray(ESP2013, dtype=np.float64)[esp2013_band_index(age)]
