"""The `closeloop` command line: run services, issue development tokens, seed, migrate."""

from __future__ import annotations

import asyncio
import csv
import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from audit.cli import audit_app
from runtime.bootstrap import ServiceSpec
from runtime.settings import SERVICE_NAMES, Settings, tool_settings

app = typer.Typer(help="Closed Loop (闭环): rectification tracking for environmental-inspection findings.",
                  no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
deadletters_app = typer.Typer(help="Dead letters: messages a service's consumer could not handle (死信).",
                              no_args_is_help=True)
app.add_typer(deadletters_app, name="deadletters")

ROOT = Path(__file__).resolve().parent.parent
# The reference data: the repository's data/ folder, or where the container image puts it.
DATA = ROOT / "data" if (ROOT / "data").is_dir() else Path("/usr/share/closeloop/data")
DEFAULT_PORTS = {"issues": 8001, "verification": 8002, "scoring": 8003, "notify": 8004}
REFERENCE_ROUND = {
    "id": "nm-2019-inspection", "name": "自治区第一生态环境保护督察组", "level": "regional",
    "started_on": "2019-11-15", "ended_on": "2019-12-09", "feedback_on": "2020-05-17",
}


def fail(message: str, hint: str) -> None:
    """Print what went wrong and what to do, then exit 1."""
    typer.secho(f"error: {message}", fg="red", err=True)
    typer.secho(f"  what to do: {hint}", err=True)
    raise typer.Exit(1)


def _check_service(service: str) -> None:
    if service not in SERVICE_NAMES:
        fail(f"unknown service {service!r}", f"choose one of: {', '.join(SERVICE_NAMES)}")


def service_spec(service: str) -> ServiceSpec:
    """A service's spec (imported only when that service is asked for)."""
    spec: ServiceSpec = importlib.import_module(f"services.{service}.app").SPEC
    return spec


def service_settings(service: str, **overrides: Any) -> Settings:
    """A service's own settings, from the environment and the overrides."""
    settings: Settings = importlib.import_module(f"services.{service}.settings").get_settings(**overrides)
    return settings


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="issues, verification, scoring or notify")],
    host: Annotated[str | None, typer.Option(help="listen address (default CLOSELOOP_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="listen port (default CLOSELOOP_PORT, else 8001-8004)")] = None,
) -> None:
    """Run one service."""
    import uvicorn

    from runtime.app import freeze_startup_heap

    _check_service(service)
    try:
        settings = service_settings(service)
    except Exception as exc:  # noqa: BLE001 — any settings error is shown with what to do
        fail(f"bad settings: {exc}", "fix the CLOSELOOP_* environment variables (see README, Configuration)")
    module = importlib.import_module(f"services.{service}.app")
    application = module.create_app(settings)
    freeze_startup_heap()
    uvicorn.run(application, host=host or settings.host, port=port or settings.port or DEFAULT_PORTS[service],
                log_level="warning", access_log=False)


def _wait_healthy(urls: dict[str, str], procs: dict[str, subprocess.Popen[bytes]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(urls)
    while pending and time.monotonic() < deadline:
        for name, url in list(pending.items()):
            if procs[name].poll() is not None:
                fail(f"the {name} service exited with code {procs[name].returncode}",
                     "read its log above; a port in use? try --base-port")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    pending.pop(name)
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    if pending:
        fail(f"services not ready after {timeout:.0f} s: {', '.join(pending)}", "read their logs above")


@app.command()
def dev(
    base_port: Annotated[int, typer.Option(help="issues listens here, the others on the next ports")] = 8001,
    data_dir: Annotated[Path, typer.Option(help="where the SQLite files and evidence live")] = Path("var"),
    seed: Annotated[bool, typer.Option(help="load the reference orgs, round and ledger (skips what exists)")] = True,
    host: Annotated[str, typer.Option(help="listen address")] = "127.0.0.1",
    gateway_port: Annotated[int, typer.Option(help="the one address: web app and APIs (gateway)")] = 8000,
) -> None:
    """Run the four services in embedded mode (SQLite, embedded feeds, local evidence folder) behind the gateway."""
    ports = {name: base_port + i for i, name in enumerate(SERVICE_NAMES)}
    urls = {name: f"http://{host}:{port}" for name, port in ports.items()}
    env = dict(os.environ)
    env.update({f"CLOSELOOP_{n.upper()}_URL": u for n, u in urls.items()})
    env.update({"CLOSELOOP_BUS": "embedded", "CLOSELOOP_DATA_DIR": str(data_dir.resolve())})
    # A person reads this terminal: warnings and errors only, unless CLOSELOOP_LOG_LEVEL says otherwise.
    env.setdefault("CLOSELOOP_LOG_LEVEL", "WARNING")
    # The demo campaign's folder holds DEMO.json; the web app then marks every page as demo data.
    if (data_dir / "DEMO.json").exists():
        env.setdefault("CLOSELOOP_DEMO", "true")
    data_dir.mkdir(parents=True, exist_ok=True)
    # The install's signing secret, made once here (unless CLOSELOOP_JWT_SECRET is set) before anything starts:
    # the four services, the gateway's sign-in, seeding and `closeloop token` all read that one file.
    from runtime.auth import signing_secret

    tools = tool_settings(data_dir=data_dir.resolve())
    signing_secret(tools)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for name in SERVICE_NAMES:
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "closeloop.cli", "serve", name, "--host", host, "--port", str(ports[name])],
            env=env, cwd=ROOT,
        )
    # The gateway: one origin for the web app and the four APIs (gateway/).
    procs["gateway"] = subprocess.Popen(
        [sys.executable, "-m", "gateway", "--host", host, "--port", str(gateway_port)], env=env, cwd=ROOT)
    gateway_url = f"http://{host}:{gateway_port}"

    def stop(*_: Any) -> None:
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
        for p in procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()

    def stop_and_exit(*_: Any) -> None:
        stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop_and_exit)
    try:
        _wait_healthy(urls | {"gateway": gateway_url}, procs)
        if seed:
            settings = tool_settings(service="issues", issues_url=urls["issues"], data_dir=data_dir.resolve())
            try:
                asyncio.run(_seed(settings, urls["issues"]))
            except (RuntimeError, httpx.HTTPError) as exc:
                fail(f"seeding the reference data failed: {exc}",
                     "fix the refused rows in data/ and run `make run` again (what was already created is kept)")
        typer.secho(f"\n打开 {gateway_url}   (the web app and every API, one address)", fg="green", bold=True)
        typer.secho(f"\nClosed Loop is running (embedded mode, data in {data_dir.resolve()}):", fg="green")
        for name, url in urls.items():
            typer.echo(f"  {name:<13} {url}   API docs: {url}/docs")
        typer.echo("\nGet a token, e.g. for the inspection office's admin:")
        secret_env = "" if tools.jwt_secret or tools.jwt_secret_file else f"CLOSELOOP_DATA_DIR={data_dir.resolve()} "
        typer.echo(f"  {secret_env}.venv/bin/closeloop token --sub admin --org inspection-office --roles admin")
        typer.echo(f"  curl -H \"Authorization: Bearer $TOKEN\" {urls['issues']}/v1/issues")
        typer.echo("\nPress Ctrl-C to stop.")
        while all(p.poll() is None for p in procs.values()):
            time.sleep(0.5)
        dead = [n for n, p in procs.items() if p.poll() is not None]
        fail(f"service(s) stopped: {', '.join(dead)}", "read the log above, fix, and run `make run` again")
    except KeyboardInterrupt:
        typer.echo("\nstopping…")
    finally:
        stop()


@app.command()
def token(
    sub: Annotated[str, typer.Option(help="user name")],
    org: Annotated[str | None, typer.Option(help="org id, e.g. city-eeb")] = None,
    roles: Annotated[str, typer.Option(help="comma-separated: admin,responsible,supervisor,leader,auditor,system")] = "",
    ttl: Annotated[int, typer.Option(help="seconds until it expires (at most 30 days)")] = 12 * 3600,
) -> None:
    """Print a JWT signed with CLOSELOOP_JWT_SECRET, else with the install's secret (in CLOSELOOP_DATA_DIR)."""
    from runtime.auth import issue_token

    try:
        settings = tool_settings()
    except ValueError as exc:
        fail(f"bad settings: {exc}", "fix the CLOSELOOP_* environment variables (see README, Configuration)")
    role_list = [r.strip() for r in roles.split(",") if r.strip()]
    if not role_list:
        fail("no roles given", "pass --roles, e.g. --roles responsible")
    try:
        typer.echo(issue_token(settings, sub=sub, org=org, roles=role_list, ttl=ttl))
    except ValueError as exc:
        fail(str(exc), "use known role names, a lifetime of at most 30 days, and (in production) set "
                       "CLOSELOOP_JWT_SECRET")


def _ledger_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


async def _seed(settings: Settings, issues_url: str, data: Path = DATA) -> None:
    from closeloop.seed import seed_reference
    from runtime.auth import issue_token

    token_ = issue_token(settings, sub="seed", org="inspection-office", roles=["admin"])
    async with httpx.AsyncClient(base_url=issues_url, headers={"Authorization": f"Bearer {token_}"},
                                 timeout=60) as client:
        await seed_reference(client, data=data, round_=REFERENCE_ROUND, echo=typer.echo)


@app.command()
def seed(
    issues_url: Annotated[str | None, typer.Option(help="issues service URL (default CLOSELOOP_ISSUES_URL)")] = None,
    data: Annotated[Path, typer.Option(help="folder with orgs.csv and ledger.csv")] = DATA,
) -> None:
    """Load the reference orgs, round and ledger into a running issues service (skips what exists)."""
    settings = tool_settings(service="issues")
    try:
        asyncio.run(_seed(settings, (issues_url or settings.issues_url).rstrip("/"), data))
    except httpx.HTTPError as exc:
        fail(f"cannot reach the issues service: {exc}", "start it (make run) or pass --issues-url")
    except RuntimeError as exc:
        fail(f"seeding failed: {exc}", "the rows named above were refused; fix them in the data folder and rerun")


def _service_call(service: str, method: str, path: str, url: str | None, **params: Any) -> Any:
    """One admin call to a running service (a token signed with the configured key); exits with a hint on failure."""
    from runtime.auth import issue_token

    _check_service(service)
    settings = service_settings(service)
    base = (url or getattr(settings, f"{service}_url")).rstrip("/")
    token_ = issue_token(settings, sub="closeloop-cli", org="inspection-office", roles=["admin"])
    try:
        r = httpx.request(method, f"{base}{path}", params={k: v for k, v in params.items() if v is not None},
                          headers={"Authorization": f"Bearer {token_}"}, timeout=120)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the {service} service at {base}: {exc}", "start it (make run) or pass --url")
    if r.status_code >= 400:
        try:
            message = r.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = r.text[:300]
        fail(f"{service} answered {r.status_code}: {message}", "check the id with `closeloop deadletters list`")
    return r.json()


def _echo_letter(row: dict[str, Any]) -> None:
    state = f"redriven {row['redriven_at']} → {row['redrive_outcome']}" if row.get("redriven_at") else "waiting"
    typer.echo(f"{row['id']}\t{row['created_at']}\t{row['type'] or '-'}\t{row['event_id'] or '-'}\t{state}\t"
               f"{row['error'][:120]}")


@deadletters_app.command("list")
def deadletters_list(
    service: str,
    url: Annotated[str | None, typer.Option(help="the service's URL (default CLOSELOOP_<SERVICE>_URL)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """List a running service's dead letters: id, time, type, event, state, error."""
    page = _service_call(service, "GET", "/v1/dead-letters", url, limit=limit)
    for row in page["items"]:
        _echo_letter(row)
    typer.echo(f"{len(page['items'])} dead letter(s)")


@deadletters_app.command("redrive")
def deadletters_redrive(
    service: str,
    id_: Annotated[int | None, typer.Option("--id", help="the dead letter to redrive")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every dead letter not redriven yet")] = False,
    url: Annotated[str | None, typer.Option(help="the service's URL (default CLOSELOOP_<SERVICE>_URL)")] = None,
) -> None:
    """Hand dead letters to the service's consumer again (an event handled already is not applied twice)."""
    if (id_ is None) == (not all_):
        fail("say which dead letters to redrive", "pass --id ID or --all")
    if id_ is not None:
        rows = [_service_call(service, "POST", f"/v1/dead-letters/{id_}/redrive", url)]
    else:
        rows = _service_call(service, "POST", "/v1/dead-letters/redrive", url, limit=1000)["items"]
    for row in rows:
        _echo_letter(row)
    typer.echo(f"{len(rows)} dead letter(s) redriven")


@db_app.command("upgrade")
def db_upgrade(service: str) -> None:
    """Apply pending migrations to a service's database (services also do this at start)."""
    from runtime.db import make_engine
    from runtime.migrations import migrate

    _check_service(service)
    settings = service_settings(service)
    spec = service_spec(service)

    async def run() -> None:
        engine = make_engine(settings.db_url())
        await migrate(engine, service, spec.migrations)
        await engine.dispose()

    asyncio.run(run())
    typer.echo(f"{service}: database at the newest migration")


@db_app.command("revision")
def db_revision(service: str, message: Annotated[str, typer.Option("-m", "--message")]) -> None:
    """Autogenerate a migration from the models (developers)."""
    import tempfile

    from runtime.db import make_engine
    from runtime.migrations import migrate, new_revision

    _check_service(service)
    spec = service_spec(service)

    async def run() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite+aiosqlite:///{tmp}/gen.db")
            await migrate(engine, service, spec.migrations)
            async with engine.begin() as conn:
                await conn.run_sync(new_revision, service, spec.migrations, message)
            await engine.dispose()

    asyncio.run(run())


def _add_commands() -> None:
    """Commands other packages add to `closeloop` through the `closeloop.commands` entry points (e.g. `demo`)."""
    from importlib.metadata import entry_points

    for ep in entry_points(group="closeloop.commands"):
        app.command(ep.name)(ep.load())


_add_commands()


def main() -> None:
    """Entry point."""
    app()


if __name__ == "__main__":
    main()
