"""Dump the four services' OpenAPI documents and the issue lifecycle as JSON for the web app.

Run with the project's virtualenv: `.venv/bin/python web/scripts/export_api.py [--openapi-dir D] [--generated-dir D]`.
"""

from __future__ import annotations

import argparse
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
    """The issue lifecycle as plain data (`contracts.lifecycle.as_data()`): statuses, labels, actions."""
    from contracts.lifecycle import as_data

    return as_data()


def write_json(path: Path, value: Any) -> None:
    """Write JSON as UTF-8 with sorted keys, so regenerating without a change leaves no diff."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def main() -> None:
    """Write <openapi-dir>/<service>.json and <generated-dir>/lifecycle.json (by default the app's own folders)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--openapi-dir", type=Path, default=WEB / "openapi")
    parser.add_argument("--generated-dir", type=Path, default=WEB / "src" / "api" / "generated")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for service in SERVICES:
            write_json(args.openapi_dir / f"{service}.json", openapi_of(service, Path(tmp)))
    write_json(args.generated_dir / "lifecycle.json", lifecycle())


if __name__ == "__main__":
    main()
