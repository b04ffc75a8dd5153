"""The district map the web app ships is scripts/simplify_districts.py's output from the source boundaries: the same
nine districts, far fewer vertices, and borders still shared (neighbours meet with no gap or overlap)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from itertools import pairwise
from typing import Any

from tests.e2e.cluster import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import simplify_districts as sd


def edge_lengths(collection: dict[str, Any]) -> tuple[float, float]:
    """Total length of the edges drawn by one district only (the city's outline) and by two (internal borders)."""
    uses: Counter[frozenset[tuple[float, float]]] = Counter()
    for feature in collection["features"]:
        for ring in sd.rings_of(feature["geometry"]):
            for a, b in pairwise(ring):
                uses[frozenset((a, b))] += 1
    once = sum(math.dist(*e) for e, n in uses.items() if n == 1)
    twice = sum(math.dist(*e) for e, n in uses.items() if n == 2)
    return once, twice


def test_the_shipped_map_is_the_scripts_output_from_the_source() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "simplify_districts.py"), "--check"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr


def test_the_simplified_map_keeps_the_districts_and_their_shared_borders() -> None:
    source = json.loads(sd.SOURCE.read_text(encoding="utf-8"))
    shipped = json.loads(sd.TARGET.read_text(encoding="utf-8"))
    assert [f["properties"] for f in shipped["features"]] == [f["properties"] for f in source["features"]]
    assert sd.vertices(shipped) < sd.vertices(source) / 3
    outline, borders = edge_lengths(source)
    simple_outline, simple_borders = edge_lengths(shipped)
    # a border simplified differently on its two sides would be drawn once by each: the outline would grow by
    # twice its length and the shared length would shrink by it; shortening by simplification is a few per cent
    assert borders > 0 and simple_borders > 0.9 * borders
    assert simple_outline < 1.01 * outline


def test_neighbours_share_each_simplified_border_point_for_point() -> None:
    collection = sd.simplify({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "west"}, "geometry": {"type": "Polygon", "coordinates": [
            [[0, 0], [1, 0], [1, 0.3], [1.0001, 0.5], [1, 0.7], [1, 1], [0, 1], [0, 0]]]}},
        {"type": "Feature", "properties": {"name": "east"}, "geometry": {"type": "Polygon", "coordinates": [
            [[1, 0], [2, 0], [2, 1], [1, 1], [1, 0.7], [1.0001, 0.5], [1, 0.3], [1, 0]]]}},
    ]}, tolerance=0.01)
    west, east = (f["geometry"]["coordinates"][0] for f in collection["features"])
    # the wiggle of the border goes on both sides; the corners where the border meets the outline stay
    assert [1.0001, 0.5] not in west and [1.0001, 0.5] not in east
    assert [1, 0] in west and [1, 1] in west and [1, 0] in east and [1, 1] in east
    assert edge_lengths(collection)[1] == 1.0
