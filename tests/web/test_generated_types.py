"""The web app's generated API types match what web/scripts/openapi.sh makes from the services as they are now."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.e2e.cluster import ROOT

WEB = ROOT / "web"
SERVICES = ("issues", "verification", "scoring", "notify")


def test_committed_api_types_and_lifecycle_are_what_the_script_generates_now(tmp_path: Path) -> None:
    if not (WEB / "node_modules" / ".bin" / "openapi-typescript").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=WEB, check=True, timeout=600)
    out = subprocess.run(["bash", str(WEB / "scripts" / "openapi.sh"), str(tmp_path)], cwd=ROOT, capture_output=True,
                         text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    pairs = [(WEB / "openapi" / f"{s}.json", tmp_path / "openapi" / f"{s}.json") for s in SERVICES]
    pairs += [(WEB / "src" / "api" / "generated" / f"{s}.ts", tmp_path / "generated" / f"{s}.ts") for s in SERVICES]
    pairs.append((WEB / "src" / "api" / "generated" / "lifecycle.json", tmp_path / "generated" / "lifecycle.json"))
    stale = [str(committed.relative_to(ROOT)) for committed, fresh in pairs
             if committed.read_bytes() != fresh.read_bytes()]
    assert not stale, f"regenerate with `npm run openapi` in web/ and commit: {stale} differ from the services"
