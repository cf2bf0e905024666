"""Area watches on geohash cells: the cells around a circle, a report's prefixes, exact distances.

A watch stores the cells it covers; a new report matches the watches holding any prefix
of its own geohash (one multikey index), then circles are checked by exact distance.
"""

from __future__ import annotations

import math

import pygeohash

PRECISION = 9
EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE = 2 * math.pi * EARTH_RADIUS_M / 360


def encode(lat: float, lon: float) -> str:
    return pygeohash.encode(lat, lon, PRECISION)


def prefixes(lat: float, lon: float) -> list[str]:
    """Every cell (precision 1 to 9) that holds the point."""
    full = encode(lat, lon)
    return [full[:n] for n in range(1, PRECISION + 1)]


def _cell_size_m(precision: int, lat: float) -> float:
    bits = 5 * precision
    lat_bits, lon_bits = bits // 2, bits - bits // 2
    height = 180 / 2**lat_bits * METRES_PER_DEGREE
    width = 360 / 2**lon_bits * METRES_PER_DEGREE * math.cos(math.radians(min(abs(lat), 89.9)))
    return float(min(height, width))


def circle_cells(lat: float, lon: float, radius_m: float) -> list[str]:
    """The cell holding the centre, at the finest precision at least ``radius_m`` wide, and its 8 neighbours:
    together they cover the circle."""
    edge_lat = min(abs(lat) + radius_m / METRES_PER_DEGREE, 89.9)
    precision = next((p for p in range(PRECISION, 0, -1) if _cell_size_m(p, edge_lat) >= radius_m), 1)
    centre = pygeohash.encode(lat, lon, precision)
    rows = [centre]
    for direction in ("top", "bottom"):
        try:
            rows.append(pygeohash.get_adjacent(centre, direction))
        except ValueError:  # the centre touches a pole
            continue
    cells = list(rows)
    for row in rows:
        cells += [pygeohash.get_adjacent(row, "left"), pygeohash.get_adjacent(row, "right")]
    return list(dict.fromkeys(cells))


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def is_cell(value: str) -> bool:
    return 1 <= len(value) <= PRECISION and pygeohash.is_valid_geohash(value)
