"""Location ``near``: positions within a great-circle distance of a point (R4, WGS84 degrees).

A latitude/longitude box around the circle lets the position index find the candidates; the
exact test is then a dot product of unit vectors (stored at write time as ``x, y, z``), since
two points are within angle θ of each other exactly when their dot product is ≥ cos θ. That
keeps trigonometry out of the SQL (not every SQLite has its math functions).
"""

from __future__ import annotations

import math
from typing import Any

from joinedup.store.search.values import NearValue

#: The mean Earth radius (IUGG, R1), in km: the sphere the distance is measured on.
EARTH_RADIUS_KM = 6371.0088
# Points exactly on the circle must not fall out through rounding of the dot product.
_SLACK = 1e-12

Fragment = tuple[str, list[Any]]


def _longitudes(x: str, longitude: float, spread: float) -> Fragment:
    low, high = longitude - spread, longitude + spread
    if low < -180:
        return f"({x}.longitude >= ? OR {x}.longitude <= ?)", [low + 360, high]
    if high > 180:
        return f"({x}.longitude >= ? OR {x}.longitude <= ?)", [low, high - 360]
    return f"{x}.longitude BETWEEN ? AND ?", [low, high]


def near_predicate(x: str, v: NearValue) -> Fragment:
    """The predicate on ``idx_position`` row ``x`` for one ``near`` value."""
    angle = v.km / EARTH_RADIUS_KM
    if angle >= math.pi:
        return "1=1", []
    lat, lon = math.radians(v.latitude), math.radians(v.longitude)
    centre = (math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat))
    exact = (
        f"{x}.x * ? + {x}.y * ? + {x}.z * ? >= ?",
        [*centre, math.cos(angle) - _SLACK],
    )
    spread = math.degrees(angle)
    low, high = v.latitude - spread, v.latitude + spread
    box: list[Fragment] = [(f"{x}.latitude BETWEEN ? AND ?", [max(low, -90.0), min(high, 90.0)])]
    if low > -90 and high < 90:
        # The widest longitude the circle reaches (it holds no pole): asin(sin θ / cos φ).
        box.append(
            _longitudes(x, v.longitude, math.degrees(math.asin(math.sin(angle) / math.cos(lat))))
        )
    parts = [*box, exact]
    return " AND ".join(p[0] for p in parts), [value for p in parts for value in p[1]]
