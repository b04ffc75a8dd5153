"""Dump the four services' OpenAPI documents and the issue lifecycle as JSON for the web app.

Run from the repository root with the project's virtualenv: `.venv/bin/python web/scripts/export_api.py`.
"""

from __future__ import annotations

import importlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
SERVICES = ("issues", "verification", "scoring", "notify")
sys.path.insert(0, str(ROOT))


def openapi_of(service: str, data_dir: Path) -> dict[str, Any]:
    """The OpenAPI document of one service, built without starting it (no lifespan, no database)."""
    from runtime.settings import get_settings

    settings = get_settings(service=service, env="test", data_dir=data_dir, bus="embedded")
    app = importlib.import_module(f"services.{service}.app").create_app(settings)
    return app.openapi()


def lifecycle() -> dict[str, Any]:
    """The issue lifecycle as plain data: the one place the web app learns statuses, labels and actions.

    `contracts.lifecycle.as_data()` is the source once it exists; until then the same shape is read from the
    issues service's state machine and the label table of its ledger export.
    """
    try:
        from contracts.lifecycle import as_data  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        pass
    else:
        return as_data()
    from contracts.enums import IssueStatus
    from services.issues.domain import EVENT_ACTIONS, TRANSITIONS
    from services.issues.ledger import STATUS_LABELS

    closed = {IssueStatus.signed_off, IssueStatus.filed}
    actions = list(dict.fromkeys(a for a, _ in TRANSITIONS))
    return {
        "statuses": [{"id": s.value, "label_zh": STATUS_LABELS[s.value], "closed": s in closed} for s in IssueStatus],
        "initial": IssueStatus.registered.value,
        "actions": [{"id": a} for a in actions],
        "transitions": [{"action": a, "from": src.value, "to": dst.value} for (a, src), dst in TRANSITIONS.items()],
        "closed": sorted(s.value for s in closed),
        "event_actions": dict(EVENT_ACTIONS),
    }


def write_json(path: Path, value: Any) -> None:
    """Write JSON as UTF-8 with sorted keys, so regenerating without a change leaves no diff."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def main() -> None:
    """Write web/openapi/<service>.json and web/src/api/generated/lifecycle.json."""
    with tempfile.TemporaryDirectory() as tmp:
        for service in SERVICES:
            write_json(WEB / "openapi" / f"{service}.json", openapi_of(service, Path(tmp)))
    write_json(WEB / "src" / "api" / "generated" / "lifecycle.json", lifecycle())


if __name__ == "__main__":
    main()
