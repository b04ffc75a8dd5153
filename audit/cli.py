"""`closeloop audit export | verify | replay`: take the log away, prove it unaltered, rebuild the ledger."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from runtime.settings import SERVICE_NAMES, tool_settings

audit_app = typer.Typer(help="Audit: export the event logs, verify them, replay the ledger as of a date.",
                        no_args_is_help=True)
err = Console(stderr=True)

TokenOpt = Annotated[str | None, typer.Option("--token", help="auditor's bearer token (default CLOSELOOP_TOKEN)")]
ServicesOpt = Annotated[list[str] | None, typer.Option("--service", help="only these services (repeat)")]
UrlOpt = Annotated[str | None, typer.Option(help="base URL (default CLOSELOOP_<SERVICE>_URL)")]


def _fail(message: str, hint: str) -> None:
    typer.secho(f"error: {message}", fg="red", err=True)
    typer.secho(f"  what to do: {hint}", err=True)
    raise typer.Exit(2)


def _services(chosen: list[str] | None) -> list[str]:
    services = list(chosen or SERVICE_NAMES)
    unknown = [s for s in services if s not in SERVICE_NAMES]
    if unknown:
        _fail(f"unknown service(s) {', '.join(unknown)}", f"choose from {', '.join(SERVICE_NAMES)}")
    return services


def _urls(services: list[str], given: dict[str, str | None]) -> dict[str, str]:
    settings = tool_settings()
    return {s: (given.get(s) or settings.peer_url(s)).rstrip("/") for s in services}


def _token(token: str | None) -> str:
    value = token or os.environ.get("CLOSELOOP_TOKEN", "")
    if not value:
        _fail("no auditor token", "pass --token or set CLOSELOOP_TOKEN (e.g. `closeloop token --sub audit "
                                  "--roles auditor` in development)")
    return value


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, transient=True)


@audit_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="folder to write (created; files in it are replaced)")],
    token: TokenOpt = None,
    service: ServicesOpt = None,
    from_kafka: Annotated[bool, typer.Option("--from-kafka", help="read the Kafka topics instead of the services")] = False,
    bootstrap: Annotated[str | None, typer.Option(help="Kafka bootstrap (default CLOSELOOP_KAFKA_BOOTSTRAP)")] = None,
    issues_url: UrlOpt = None,
    verification_url: UrlOpt = None,
    scoring_url: UrlOpt = None,
    notify_url: UrlOpt = None,
) -> None:
    """Write each service's log and checkpoints as JSONL, and its public key, into a folder."""
    from audit.export import export_http, export_kafka

    services = _services(service)
    with _progress() as bar:
        tasks: dict[str, Any] = {}

        def progress(svc: str, n: int, total: int | None) -> None:
            if svc not in tasks:
                tasks[svc] = bar.add_task(f"{svc:<13}", total=total)
            bar.update(tasks[svc], advance=n, total=total)

        try:
            if from_kafka:
                manifest = asyncio.run(export_kafka(out, services, bootstrap=bootstrap or
                                                    tool_settings().kafka_bootstrap, progress=progress))
            else:
                urls = _urls(services, {"issues": issues_url, "verification": verification_url,
                                        "scoring": scoring_url, "notify": notify_url})
                manifest = asyncio.run(export_http(out, urls, token=_token(token), progress=progress))
        except (OSError, RuntimeError, httpx.HTTPError, KafkaError) as exc:
            _fail(f"{type(exc).__name__}: {exc}", "check the URLs (or --bootstrap), that the services run, "
                                                  "and the auditor token")
    for svc, info in manifest["services"].items():
        extra = f", {info['checkpoints']} checkpoints" if "checkpoints" in info else ""
        typer.echo(f"{svc:<13} {info['events']} events{extra}")
    typer.echo(f"written to {out}")


def _trusted(values: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values or []:
        name, sep, key = value.partition("=")
        if not sep or name not in SERVICE_NAMES:
            _fail(f"bad --trust {value!r}", "write SERVICE=BASE64KEY, e.g. issues=MCowBQ...")
        out[name] = key
    return out


TrustOpt = Annotated[list[str] | None, typer.Option("--trust", help="SERVICE=BASE64 public key to require "
                                                     "(else the exported key is used)")]


@audit_app.command("verify")
def verify(
    folder: Annotated[Path, typer.Argument(help="an export folder (closeloop audit export)")],
    trust: TrustOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Check every event hash, per-subject chain, running log hash and checkpoint; exit 1 at the first fault."""
    from audit.files import read_manifest
    from audit.verify import verify_export

    try:
        manifest = read_manifest(folder)
    except (OSError, ValueError) as exc:
        _fail(str(exc), "pass the folder written by `closeloop audit export`")
    total = sum(int(v.get("events", 0)) for v in manifest["services"].values())
    with _progress() as bar:
        task = bar.add_task("verifying", total=total)
        results = verify_export(folder, trusted=_trusted(trust), progress=lambda n: bar.update(task, advance=n))
    if as_json:
        typer.echo(json.dumps([{"service": r.service, "ok": r.ok, "events": r.events, "checkpoints": r.checkpoints,
                                "unsigned_tail": r.unsigned_tail, "head": r.head,
                                "problems": [p.__dict__ for p in r.problems]} for r in results],
                              ensure_ascii=False, indent=2))
    else:
        for r in results:
            if r.ok:
                tail = f", {r.unsigned_tail} newest not yet signed" if r.unsigned_tail else ""
                typer.secho(f"ok   {r.service:<13} {r.events} events, {r.subjects} subjects, "
                            f"{r.checkpoints} checkpoints{tail}", fg="green")
            else:
                for p in r.problems:
                    typer.secho(f"FAIL {p}", fg="red")
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@audit_app.command("draws")
def draws(
    folder: Annotated[Path, typer.Argument(help="an export folder (closeloop audit export)")],
    trust: TrustOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Recompute every re-inspection draw (抽查) from the exported log alone; exit 1 on any mismatch."""
    from audit.draws import check_draws
    from audit.files import read_manifest

    try:
        read_manifest(folder)
    except (OSError, ValueError) as exc:
        _fail(str(exc), "pass the folder written by `closeloop audit export`")
    report = check_draws(folder, trusted=_trusted(trust).get("verification"))
    if as_json:
        typer.echo(json.dumps({"ok": report.ok, "log_problems": report.log_problems,
                               "draws": [{**d.__dict__, "ok": d.ok} for d in report.draws]},
                              ensure_ascii=False, indent=2))
    else:
        for p in report.log_problems:
            typer.secho(f"FAIL {p}", fg="red")
        for d in report.draws:
            if d.ok:
                typer.secho(f"ok   draw {d.sample_id} ({d.period}, position {d.position}): {len(d.drawn)} tasks "
                            "recomputed from its recorded inputs", fg="green")
            for m in d.mismatches:
                typer.secho(f"MISMATCH draw {d.sample_id} ({d.period}): {m}", fg="red")
            for n in d.notes:
                typer.secho(f"NOTE draw {d.sample_id} ({d.period}): {n}", fg="yellow")
        typer.echo(f"{len(report.draws)} draw(s), {sum(not d.ok for d in report.draws)} mismatch(es)")
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("replay")
def replay(
    folder: Annotated[Path, typer.Argument(help="an export folder (closeloop audit export)")],
    until: Annotated[str | None, typer.Option(help="YYYY-MM-DD: the state at the end of that day (Asia/Shanghai)")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="write the whole rebuilt state here as JSON")] = None,
    compare: Annotated[bool, typer.Option("--compare", help="diff with the live services; exit 1 on any difference")] = False,
    handlers: Annotated[bool, typer.Option(help="also run the services' handler tables (derived state)")] = True,
    trust: TrustOpt = None,
    token: TokenOpt = None,
    issues_url: UrlOpt = None,
    verification_url: UrlOpt = None,
    scoring_url: UrlOpt = None,
    notify_url: UrlOpt = None,
) -> None:
    """Rebuild, from the events alone, every issue's status and all the services derive, as of a date."""
    from audit.files import read_manifest
    from audit.replay import replay_export
    from runtime.logs import quiet_logging

    try:
        day = date.fromisoformat(until) if until else None
    except ValueError:
        _fail(f"--until {until!r} is not a date", "write it as YYYY-MM-DD")
    if compare and day is not None:
        _fail("--compare with --until", "the live services show today's state: compare without --until")
    try:
        manifest = read_manifest(folder)
    except (OSError, ValueError) as exc:
        _fail(str(exc), "pass the folder written by `closeloop audit export`")
    total = sum(int(v.get("events", 0)) for v in manifest["services"].values())
    with quiet_logging(service="audit"), _progress() as bar:
        task = bar.add_task("verifying and folding", total=total)
        derived: dict[str, Any] = {}

        def handled(svc: str, done: int, of: int) -> None:
            if svc not in derived:
                derived[svc] = bar.add_task(f"{svc}: its handlers over its peers' events", total=of)
            bar.update(derived[svc], completed=done)

        result = asyncio.run(replay_export(folder, until=day, handlers=handlers, trusted=_trusted(trust),
                                           progress=lambda n: bar.update(task, advance=n),
                                           handler_progress=handled if handlers else None))
    for r in result.verified:
        for p in r.problems:
            typer.secho(f"FAIL {p}", fg="red")
    if not all(r.ok for r in result.verified):
        typer.secho("the export does not verify: nothing replayed", fg="red", err=True)
        raise typer.Exit(1)
    if out is not None:
        out.write_bytes(result.state_json())
    typer.echo(json.dumps(result.summary(), ensure_ascii=False, indent=2))
    from audit.compare import findings

    diffs: list[str] = []
    if compare:
        from audit.compare import compare_live

        services = list(manifest["services"])
        urls = _urls(services, {"issues": issues_url, "verification": verification_url, "scoring": scoring_url,
                                "notify": notify_url})
        diffs = asyncio.run(compare_live(result, urls, token=_token(token)))
    lines = findings(result, diffs)
    for line in lines:
        typer.secho(line, fg="red" if line.startswith("DIFF") else "yellow")
    anomalies = len(lines) - len(diffs)
    typer.echo(f"{anomalies} anomal{'y' if anomalies == 1 else 'ies'} in the replay"
               + (f", {len(diffs)} difference(s) with the live services" if compare else ""))
    failed = bool(lines) or not result.ok
    if failed:
        raise typer.Exit(1)
