"""Test helpers: in-process services with their lifespan, tokens, and envelopes built like the services build them."""

from __future__ import annotations

import atexit
import importlib
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
from fastapi import FastAPI

from contracts import Actor, Envelope
from contracts.envelope import GENESIS_HASH, seal
from contracts.registry import latest_version
from runtime.app import Runtime
from runtime.auth import issue_token, signing_secret
from runtime.clock import Clock, SettableClock
from runtime.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# The services a test runs in-process have a data folder each, but belong to one install: they share one
# per-install secret file, made (0600) on first use like an install's, in a folder of this test run.
TEST_SECRET_DIR = Path(tempfile.mkdtemp(prefix="closeloop-test-secret-"))
TEST_SECRET_FILE = TEST_SECRET_DIR / "jwt-development.secret"
atexit.register(shutil.rmtree, TEST_SECRET_DIR, ignore_errors=True)
DATA = ROOT / "data"


def settings_for(service: str, tmp: Path, **overrides: Any) -> Settings:
    """Test settings: a SQLite file per service under tmp, embedded bus, fast polling."""
    values: dict[str, Any] = {"service": service, "env": "test", "data_dir": tmp, "bus": "embedded",
                              "jwt_secret": "", "jwt_secret_file": TEST_SECRET_FILE,
                              "poll_interval": 0.05, "retry_backoff": 0.01, "log_json": True}
    values.update(overrides)
    settings: Settings = importlib.import_module(f"services.{service}.settings").get_settings(**values)
    return settings


def token(settings: Settings, *, sub: str = "tester", org: str | None = None, roles: list[str] | str = "admin",
          ttl: int = 3600) -> dict[str, str]:
    """Authorization header for a development token."""
    role_list = [roles] if isinstance(roles, str) else roles
    if "admin" in role_list and org is None:
        org = settings.inspection_office_org  # admin belongs to the inspection office only
    if "admin" in role_list and org != settings.inspection_office_org:
        # issue_token refuses to sign it; tests sign it by hand to see the services refuse it
        now = int(time.time())
        claims = {"sub": sub, "org": org, "roles": role_list, "aud": settings.jwt_audience, "iat": now,
                  "exp": now + ttl}
        return {"Authorization": f"Bearer {jwt.encode(claims, signing_secret(settings), algorithm='HS256')}"}
    return {"Authorization": f"Bearer {issue_token(settings, sub=sub, org=org, roles=role_list, ttl=ttl)}"}


@dataclass
class Running:
    """An in-process service: its app, runtime, HTTP client and settings."""

    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings

    @property
    def rt(self) -> Runtime:
        return self.app.state.runtime  # type: ignore[no-any-return]

    def auth(self, **kw: Any) -> dict[str, str]:
        return token(self.settings, **kw)

    async def deliver(self, envelope: Envelope | dict[str, Any]) -> str:
        """Hand one event to the service's consumer as the bus would; returns the outcome."""
        assert self.rt.consumer is not None, "this service consumes nothing"
        raw = envelope.model_dump(mode="json") if isinstance(envelope, Envelope) else envelope
        outcome = await self.rt.consumer.process(raw, origin="test")
        return outcome.status

    async def events(self, after: int = 0) -> list[dict[str, Any]]:
        """The service's own log as served to auditors (sequenced first)."""
        while await self.rt.relay.sequence_once():
            pass
        r = await self.client.get(f"/v1/logs/{self.settings.service}", params={"after": after, "limit": 1000},
                                  headers=self.auth(roles="auditor"))
        assert r.status_code == 200, r.text
        return [item["event"] for item in r.json()["items"]]


@asynccontextmanager
async def running(service: str, tmp: Path, *, clock: Clock | None = None, follow: bool = False,
                  background: bool = True, **overrides: Any) -> AsyncIterator[Running]:
    """Start one service in-process (lifespan included); by default it follows no peer (tests deliver events).

    `background=False` runs no relay loop and no service task: the test sequences the log itself (`events()`).
    """
    from runtime.app import build_app

    settings = settings_for(service, tmp, **overrides)
    module = importlib.import_module(f"services.{service}.app")
    app = build_app(module.SPEC, settings, clock=clock, follow=follow, background=background)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Running(app=app, client=client, settings=settings)


class EventFactory:
    """Builds valid, chained envelopes as a given source service would publish them."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.heads: dict[str, tuple[int, str]] = {}

    def make(self, type_: str, subject: str, data: dict[str, Any], *, time: datetime | None = None,
             actor: Actor | None = None, version: int | None = None) -> Envelope:
        seq, prev = self.heads.get(subject, (0, GENESIS_HASH))
        env = seal(
            id=uuid.uuid4(), type=type_, version=version or latest_version(type_), source=self.source,
            subject=subject, time=time or datetime.now(UTC),
            actor=actor or Actor(org="inspection-office", user="tester", role="admin"),
            correlation_id=str(uuid.uuid4()), causation_id=None, seq=seq + 1, prev_hash=prev, data=data,
        )
        self.heads[subject] = (env.seq, env.hash)
        return env


def fixed_clock(iso: str) -> SettableClock:
    """A settable clock at an ISO time."""
    return SettableClock(datetime.fromisoformat(iso))


def status_moves(factory: EventFactory, verification: list[Envelope], *, start: dict[str, str] | None = None,
                 lag: timedelta = timedelta(seconds=2)) -> list[Envelope]:
    """The issue.status_changed events the issues service emits for verification's events (in their order), a
    little later and carrying the deciding event's time as `at`; `start` gives an issue's status before them."""
    from contracts import lifecycle

    status = dict(start or {})
    out = []
    for env in verification:
        action = lifecycle.EVENT_ACTIONS.get(env.type)
        if action is None:
            continue
        issue_id = str(env.data["issue_id"])
        current = status.get(issue_id, lifecycle.INITIAL.value)
        target = lifecycle.next_status(action, current)
        assert target is not None, f"{env.type} is not allowed from {current}"
        out.append(factory.make("issue.status_changed", issue_id, {
            "issue_id": issue_id, "from_status": current, "to_status": target.value, "action": action.value,
            "cause_event_id": str(env.id), "at": env.time.isoformat()}, time=env.time + lag))
        status[issue_id] = target.value
    return out
