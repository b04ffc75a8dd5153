"""The `closeloop demo` command (registered through the `closeloop.commands` entry point; imports stay lazy)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)") from None


def demo(
    data_dir: Annotated[Path, typer.Option(help="an empty folder the demo's SQLite files and evidence go into")]
    = Path("var/demo"),
    seed: Annotated[int, typer.Option(help="the same seed plays the same campaign, byte for byte")] = 2020,
    until: Annotated[str, typer.Option(help="stop at the end of this day (YYYY-MM-DD, at most 2021-06-30)")]
    = "2021-06-30",
) -> None:
    """Play the Hohhot campaign (2020-05-17 … 2021-06-30) on a simulated clock into its own data folder (演示数据)."""
    import asyncio
    import time

    from demo.campaign import END, FEEDBACK, Refused, play

    last = _day(until)
    if not FEEDBACK <= last <= END:
        raise typer.BadParameter(f"--until must lie between {FEEDBACK} and {END}", param_hint="--until")
    if data_dir.exists() and any(data_dir.iterdir()):
        typer.secho(f"error: {data_dir} is not empty", fg="red", err=True)
        typer.secho("  what to do: the demo writes only into an empty folder; remove it or pass --data-dir",
                    err=True)
        raise typer.Exit(1)
    started = time.monotonic()
    typer.echo(f"closeloop demo: playing the campaign {FEEDBACK} … {last} (seed {seed}) into {data_dir.resolve()}")
    try:
        summary = asyncio.run(play(data_dir, seed=seed, until=last, echo=typer.echo))
    except Refused as exc:
        typer.secho(f"error: a service refused a step of the demo: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    stats = summary["stats"]
    typer.secho(f"\n演示数据 (demo data) ready in {time.monotonic() - started:.0f} s: {summary['events_total']} events "
                f"({', '.join(f'{k} {v}' for k, v in summary['events'].items())})", fg="green")
    typer.echo(f"  {stats['applications']} applications, {stats['acceptances']} signed off, "
               f"{stats['rejections']} rejected, {stats['reopenings']} reopened, {stats['filings']} filed, "
               f"{stats['rankings']} rankings published, {stats['readings']} readings")
    typer.echo(f"  serve it: .venv/bin/closeloop dev --data-dir {data_dir} --no-seed")
