"""`closeloop deadletters`: lists and redrives through the service's admin routes, with a signed admin token."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from closeloop import cli

pytestmark = pytest.mark.fast

LETTER = {"id": 7, "consumer": "scoring", "event_id": "e-1", "type": "issue.registered", "origin": "t/0@3",
          "error": "ValueError: a handler bug", "payload": "{}", "created_at": "2026-12-02T13:00:00Z",
          "redriven_at": None, "redrive_outcome": None}


def _calls(monkeypatch: pytest.MonkeyPatch, answer: Any, status: int = 200) -> list[tuple[str, str, dict[str, Any]]]:
    calls: list[tuple[str, str, dict[str, Any]]] = []

    def request(method: str, url: str, **kw: Any) -> httpx.Response:
        calls.append((method, url, kw))
        return httpx.Response(status, json=answer, request=httpx.Request(method, url))

    monkeypatch.setattr(cli.httpx, "request", request)
    return calls


def test_redrive_one_posts_to_the_services_route_with_an_admin_token(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _calls(monkeypatch, {**LETTER, "redriven_at": "2026-12-02T13:05:00Z", "redrive_outcome": "handled"})
    result = CliRunner().invoke(cli.app, ["deadletters", "redrive", "scoring", "--id", "7",
                                          "--url", "http://scoring.test"])
    assert result.exit_code == 0, result.output
    [(method, url, kw)] = calls
    assert (method, url) == ("POST", "http://scoring.test/v1/dead-letters/7/redrive")
    assert kw["headers"]["Authorization"].startswith("Bearer ")
    assert "handled" in result.output and "1 dead letter(s) redriven" in result.output


def test_list_and_redrive_all(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _calls(monkeypatch, {"items": [LETTER], "next_cursor": None})
    result = CliRunner().invoke(cli.app, ["deadletters", "list", "scoring", "--url", "http://scoring.test"])
    assert result.exit_code == 0 and "waiting" in result.output and "1 dead letter(s)" in result.output
    result = CliRunner().invoke(cli.app, ["deadletters", "redrive", "scoring", "--all", "--url", "http://scoring.test"])
    assert result.exit_code == 0, result.output
    assert [c[1] for c in calls] == ["http://scoring.test/v1/dead-letters", "http://scoring.test/v1/dead-letters/redrive"]


def test_redrive_says_what_to_pass_and_what_the_service_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(cli.app, ["deadletters", "redrive", "scoring"])
    assert result.exit_code == 1 and "--id ID or --all" in result.output
    _calls(monkeypatch, {"error": {"code": "not_found", "message": "没有编号为 9 的死信 / no dead letter 9"}}, 404)
    result = CliRunner().invoke(cli.app, ["deadletters", "redrive", "scoring", "--id", "9", "--url", "http://s.test"])
    assert result.exit_code == 1 and "没有编号为 9 的死信" in result.output
