"""PHEindicatormethods phe_quantile reference cases (quantiles_testdata.csv)."""

from __future__ import annotations

import csv
import os
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from joinedup.measures.stats.quantiles import quantiles

FOLDER = (
    Path(
        os.environ.get(
            "JOINEDUP_REFERENCE", Path(__file__).resolve().parents[3] / "shared/reference"
        )
    )
    / "phe-indicator-methods"
)
INVERTED = {"RAG - Low is good", "True"}  # README: these polarities mean quantile 1 = highest


@cache
def rows() -> list[dict[str, str]]:
    with (FOLDER / "quantiles_testdata.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def call_rows(test: str, group_set: str) -> list[int]:
    """Rows of one package call. GroupSet "None" is one call over all its rows (both tests)."""
    return [
        i
        for i, row in enumerate(rows())
        if row["GroupSet"] == group_set and (group_set == "None" or row["Test"] == test)
    ]


@cache
def assigned(test: str, group_set: str) -> dict[int, float]:
    selected = call_rows(test, group_set)
    data = [rows()[i] for i in selected]
    values = [float(r["Value"]) if r["Value"] else np.nan for r in data]
    if group_set == "IndSexReg":  # deciles within indicator-sex and region
        result = quantiles(
            values,
            10,
            group=[f"{r['IndSexRef']}|{r['ParentCode']}" for r in data],
            invert=[r["Polarity"] in INVERTED for r in data],
        )
    elif group_set == "IndSex":  # septiles within indicator-sex
        result = quantiles(
            values,
            7,
            group=[r["IndSexRef"] for r in data],
            invert=[r["Polarity"] in INVERTED for r in data],
        )
    else:  # quartiles over all rows at once, highest value first
        result = quantiles(values, 4, invert=True)
    return dict(zip(selected, result.tolist(), strict=True))


def cases() -> list[Any]:
    if not FOLDER.exists():
        return [pytest.param(None, id="reference-missing")]
    return [
        pytest.param(i, id=f"{row['Test']}-{row['GroupSet']}-row{i + 2}")
        for i, row in enumerate(rows())
        if row["Test"] != "BadPolarity"
    ]


@pytest.mark.parametrize("index", cases())
def test_quantile(reference_dir: Path, index: int) -> None:
    row = rows()[index]
    got = assigned(row["Test"], row["GroupSet"])[index]
    if row["QuantileInGrp"] == "":
        assert np.isnan(got)
    else:
        assert got == float(row["QuantileInGrp"])


def test_mixed_polarity_within_a_group_is_an_error(reference_dir: Path) -> None:
    with pytest.raises(ValueError, match="same value for every row of a group"):
        assigned("BadPolarity", "IndSex")
