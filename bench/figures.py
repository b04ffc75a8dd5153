"""One figure of a bench: ours beside the same-run baseline, the ratio, the goal and whether it is met.

Every bench calls `figure(...)` for what it measures. The line is printed; when bench/run runs the bench it
sets CLOSELOOP_BENCH_FIGURES to a file, and the figure is appended to it as one JSON line, so bench/run can
print one table for all of them and keep it under var/bench/ to compare versions.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Literal

Kind = Literal["higher", "lower"]


@dataclass
class Figure:
    key: str  # stable id, e.g. "api.create"
    name: str  # what is measured, for a person
    ours: float
    baseline: float | None
    unit: str  # of ours and baseline, e.g. "req/s", "ms", "s", "events/s"
    ratio: float | None  # how ours compares with the baseline, as `ratio_unit` says
    ratio_unit: str  # "%" (ours / baseline, in %) or "×" (ours / baseline, as a factor)
    goal: str  # e.g. "≥ 70 %", "≤ 60 ms"; "" when the bench has no goal
    met: bool | None  # None when there is no goal
    baseline_name: str = ""
    note: str = ""

    def line(self) -> str:
        base = f"{fmt(self.baseline)} {self.unit} ({self.baseline_name})" if self.baseline is not None else "—"
        ratio = fmt_ratio(self.ratio, self.ratio_unit)
        verdict = "" if self.met is None else ("met" if self.met else "MISSED")
        goal = f"goal {self.goal}: {verdict}" if self.goal else "no goal"
        return f"FIGURE {self.name}: {fmt(self.ours)} {self.unit} vs {base}, ratio {ratio}; {goal}"


def fmt(x: float | None) -> str:
    if x is None:
        return "—"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def fmt_ratio(r: float | None, unit: str) -> str:
    if r is None:
        return "—"
    return f"{r * 100:.0f} %" if unit == "%" else f"{r:.2f}×"


def figure(key: str, name: str, ours: float, baseline: float | None, unit: str, *, ratio_unit: str = "%",
           goal: str = "", met: bool | None = None, baseline_name: str = "", note: str = "") -> Figure:
    """Record one figure; the ratio is ours / baseline."""
    ratio = ours / baseline if baseline else None
    f = Figure(key=key, name=name, ours=ours, baseline=baseline, unit=unit, ratio=ratio, ratio_unit=ratio_unit,
               goal=goal, met=met if goal else None, baseline_name=baseline_name, note=note)
    print(f.line(), flush=True)
    path = os.environ.get("CLOSELOOP_BENCH_FIGURES")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(f), ensure_ascii=False) + "\n")
    return f
