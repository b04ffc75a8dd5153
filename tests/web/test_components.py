"""The web app's component tests (Vitest: error words, countdown, pagination, district matching, GCJ-02, import
rows, checkpoints, session) run as part of the suite and fail it when one fails."""

from __future__ import annotations

import re
import subprocess

from tests.e2e.cluster import ROOT

WEB = ROOT / "web"


def test_the_web_apps_component_tests_pass() -> None:
    if not (WEB / "node_modules" / ".bin" / "vitest").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=WEB, check=True, timeout=600)
    out = subprocess.run(["npx", "--no-install", "vitest", "run"], cwd=WEB, capture_output=True, text=True,
                         timeout=600, check=False)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
    assert out.returncode == 0, text[-4000:]
    passed = re.search(r"Tests\s+(\d+) passed", text)
    assert passed is not None and int(passed.group(1)) >= 40, text[-2000:]
