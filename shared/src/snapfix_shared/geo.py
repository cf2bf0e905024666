"""Geohash cells for places and circles: the precision for a radius, the 9 cells that cover a
circle, a point's prefixes, exact distances.

Works on every Mongo-wire server (no geospatial index): the issues service's nearby search
asks for the covering cells' prefixes and filters by haversine distance; notify's area
watches store the cells a circle covers and match a report by its prefixes.
"""

from __future__ import annotations

import math

import pygeohash

STORED_PRECISION = 9  # about 4.8 m x 4.8 m: finer than any radius we search
EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE = 2 * math.pi * EARTH_RADIUS_M / 360


def encode(lat: float, lon: float) -> str:
    return pygeohash.encode(lat, lon, STORED_PRECISION)


def cell_size_m(precision: int, lat: float) -> tuple[float, float]:
    """(height, width) in metres of a cell at ``precision`` near latitude ``lat``."""
    bits = 5 * precision
    lat_bits, lon_bits = bits // 2, bits - bits // 2
    height = 180 / 2**lat_bits * METRES_PER_DEGREE
    width = 360 / 2**lon_bits * METRES_PER_DEGREE * math.cos(math.radians(min(abs(lat), 89.9)))
    return height, width


def search_precision(lat: float, radius_m: float) -> int:
    """The finest precision whose cells are at least ``radius_m`` high and wide around ``lat``.

    Then a circle of that radius around any point of a cell stays inside the cell and its
    8 neighbours. Widths shrink towards the poles, so the width is taken at the circle's
    poleward edge.
    """
    edge_lat = min(abs(lat) + radius_m / METRES_PER_DEGREE, 89.9)
    for precision in range(STORED_PRECISION, 0, -1):
        if min(cell_size_m(precision, edge_lat)) >= radius_m:
            return precision
    return 1


def search_cells(lat: float, lon: float, radius_m: float) -> list[str]:
    """The cell holding the point and its 8 neighbours (no row beyond a pole)."""
    centre = pygeohash.encode(lat, lon, search_precision(lat, radius_m))
    rows = [centre]
    for direction in ("top", "bottom"):
        try:
            rows.append(pygeohash.get_adjacent(centre, direction))
        except ValueError:  # the centre touches a pole: nothing lies beyond it
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


def prefixes(lat: float, lon: float) -> list[str]:
    """Every cell (precision 1 to ``STORED_PRECISION``) that holds the point."""
    full = encode(lat, lon)
    return [full[:n] for n in range(1, STORED_PRECISION + 1)]


def is_cell(value: str) -> bool:
    return 1 <= len(value) <= STORED_PRECISION and pygeohash.is_valid_geohash(value)
