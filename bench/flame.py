"""Folded stacks (py-spy `--format raw`) → a flame graph SVG and a text summary of where the time goes.

    .venv/bin/python bench/flame.py var/bench/profiles/api_create.txt [--top 25]

Writes <file>.svg beside the input and prints the functions with the most inclusive and self samples (our own
code, the runtime's and the libraries', each named by file:function), so the README can say where time goes.
"""

from __future__ import annotations

import argparse
import html
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>.*?)(?::\d+)?\)$")


def short(frame: str) -> str:
    """`fn (path/to/file.py:12)` → `file-tail:fn`, with the venv and stdlib prefixes taken off."""
    m = FRAME.match(frame)
    if not m:
        return frame
    path = m["file"]
    for cut in ("site-packages/", "/lib/python3.11/", "/work/wt/perf/"):
        if cut in path:
            path = path.split(cut, 1)[1]
    return f"{path}:{m['fn']}"


def read(path: Path) -> Counter[tuple[str, ...]]:
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        stack, _, n = line.rpartition(" ")
        frames = tuple(short(f) for f in stack.split(";") if f)
        stacks[frames] += int(n)
    return stacks


def summary(stacks: Counter[tuple[str, ...]], top: int) -> str:
    total = sum(stacks.values()) or 1
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, n in stacks.items():
        for f in set(frames):
            inclusive[f] += n
        if frames:
            own[frames[-1]] += n
    out = [f"{total} samples"]
    out.append("inclusive (a function and what it calls):")
    out += [f"  {n / total:6.1%}  {f}" for f, n in inclusive.most_common(top)]
    out.append("self (the function's own code):")
    out += [f"  {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    return "\n".join(out)


def svg(stacks: Counter[tuple[str, ...]], title: str) -> str:
    """A plain flame graph: root at the bottom, width ∝ samples; hover a box for its name and share."""
    tree: dict = {"n": 0, "kids": {}}  # type: ignore[type-arg]
    for frames, n in stacks.items():
        node = tree
        node["n"] += n
        for f in frames:
            node = node["kids"].setdefault(f, {"n": 0, "kids": {}})
            node["n"] += n
    total = tree["n"] or 1
    width, row = 1600.0, 16
    boxes: list[str] = []
    depth_max = 0

    def walk(node: dict, name: str, x: float, depth: int) -> None:  # type: ignore[type-arg]
        nonlocal depth_max
        w = node["n"] / total * width
        if w < 0.5:
            return
        depth_max = max(depth_max, depth)
        boxes.append((name, x, w, depth, node["n"]))  # type: ignore[arg-type]
        cx = x
        for kname, kid in sorted(node["kids"].items()):
            walk(kid, kname, cx, depth + 1)
            cx += kid["n"] / total * width

    walk(tree, "all", 0.0, 0)
    height = (depth_max + 2) * row + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}" '
             f'font-family="monospace" font-size="11"><text x="4" y="14">{html.escape(title)}</text>']
    for name, x, w, depth, n in boxes:  # type: ignore[misc]
        y = height - (depth + 1) * row
        hue = 20 + (hash(name.split(":")[0]) % 40)
        label = html.escape(name)
        text = label[: int(w / 7)] if w > 20 else ""
        parts.append(f'<g><title>{label} — {n / total:.1%} ({n})</title>'
                     f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row - 1}" fill="hsl({hue},80%,60%)"/>'
                     f'<text x="{x + 2:.1f}" y="{y + 11}">{text}</text></g>')
    parts.append("</svg>")
    return "\n".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("raw", type=Path)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--only", default=None, help="keep the stacks with a frame containing this text")
    args = ap.parse_args()
    stacks = read(args.raw)
    if args.only:
        stacks = Counter({k: n for k, n in stacks.items() if any(args.only in f for f in k)})
    # threads parked in a queue or a selector are idle, not work
    stacks = Counter({k: n for k, n in stacks.items()
                      if not k or k[-1] not in ("threading.py:Condition.wait", "selectors.py:EpollSelector.select")})
    args.raw.with_suffix(".svg").write_text(svg(stacks, args.raw.stem), encoding="utf-8")
    text = summary(stacks, args.top)
    args.raw.with_suffix(".summary.txt").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
