"""Where people live: each Place's local authority, its LSOAs and their IMD deciles.

By default the geography is synthetic: Places are given different deprivation profiles
(the first Place the most deprived) so outcomes differ between Places, and LSOA codes are
``E019xxxxx`` — a range no real LSOA uses, so a synthetic code can never be joined to real
data by mistake. With ``--imd FILE`` the real English IMD 2019 LSOA file is read: K
neighbouring local authorities (consecutive LAD codes) become the Places, with their real
LSOAs, deciles and (when the file has them) mid-2015 populations as weights.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

from joinedup.synth.errors import SynthInputError

#: Average people per LSOA (ONS: LSOAs hold 1,000-3,000 people, about 1,600 on average).
PEOPLE_PER_LSOA = 1_600
#: A small Place is a miniature: fewer people per LSOA, so it still spans many deciles.
MINIATURE_LSOAS = 12
IMD_COLUMNS = ("lsoa11cd", "lad19cd", "lad19nm", "imd_decile")
PLACE_NAMES = (
    "Ashby Vale",
    "Brookford",
    "Castlemere",
    "Dunholm",
    "Eastwick",
    "Fairleigh",
    "Glenmoor",
    "Harrowden",
    "Ivybridge Marsh",
    "Kingsreach",
)


@dataclass(frozen=True)
class Lsoa:
    code: str
    decile: int
    weight: float


@dataclass(frozen=True)
class PlaceArea:
    """A Place's local-authority footprint."""

    name: str
    la_code: str
    lsoas: tuple[Lsoa, ...]


def synthetic_areas(populations: list[int], seed: int) -> list[PlaceArea]:
    rng = random.Random(f"{seed}:geography")
    count = len(populations)
    areas: list[PlaceArea] = []
    serial = 0
    for index, population in enumerate(populations):
        # Place centres spread from deprived (decile ~3) to affluent (~8).
        centre = 3.0 + 5.0 * index / max(1, count - 1) if count > 1 else 5.5
        lsoas = []
        for _ in range(max(MINIATURE_LSOAS, -(-population // PEOPLE_PER_LSOA))):
            serial += 1
            decile = min(10, max(1, round(rng.gauss(centre, 2.2))))
            lsoas.append(Lsoa(f"E01{900000 + serial:06d}", decile, rng.uniform(0.7, 1.3)))
        name = PLACE_NAMES[index % len(PLACE_NAMES)]
        if index >= len(PLACE_NAMES):
            name = f"{name} {index // len(PLACE_NAMES) + 1}"
        areas.append(PlaceArea(name, f"E069{index + 1:05d}", tuple(lsoas)))
    return areas


def read_imd_areas(path: Path, places: int, seed: int) -> list[PlaceArea]:
    """K neighbouring local authorities with their real LSOAs and IMD 2019 deciles."""
    where = f"--imd {path}"
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise SynthInputError(f"{where}: cannot read the file ({exc.strerror})") from exc
    by_lad: dict[str, tuple[str, list[Lsoa]]] = {}
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in IMD_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise SynthInputError(
                f"{where} is not the English IMD 2019 LSOA file: missing column(s) "
                f"{', '.join(missing)}; use File 1 of the IoD2019 with lsoa11cd and imd_decile"
            )
        has_population = "pop_total_mid2015" in (reader.fieldnames or [])
        line = 1
        try:
            for row in reader:
                line += 1
                decile = int(row["imd_decile"])
                if not 1 <= decile <= 10:
                    raise ValueError(f"imd_decile {decile} is not 1-10")
                weight = float(row["pop_total_mid2015"]) if has_population else 1.0
                _name, lsoas = by_lad.setdefault(row["lad19cd"], (row["lad19nm"], []))
                lsoas.append(Lsoa(row["lsoa11cd"], decile, max(weight, 1.0)))
        except (ValueError, TypeError) as exc:
            raise SynthInputError(
                f"{where}: line {line} is not an IMD row ({exc}); fix or re-export the file"
            ) from exc
    if len(by_lad) < places:
        raise SynthInputError(
            f"{where} has {len(by_lad)} local authorities but --places is {places}; "
            "use the full England file or fewer places"
        )
    codes = sorted(by_lad)
    start = random.Random(f"{seed}:geography").randrange(len(codes) - places + 1)
    return [
        PlaceArea(by_lad[code][0], code, tuple(sorted(by_lad[code][1], key=lambda s: s.code)))
        for code in codes[start : start + places]
    ]
