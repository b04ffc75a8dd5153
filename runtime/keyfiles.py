"""Secrets kept in files of their own: created once on first use, owner-only (0600), first writer wins."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def read_or_create(path: Path, make: Callable[[], str]) -> str:
    """The text of a secret file; made with `make()` when it is missing. A concurrent starter that loses the race
    reads the winner's secret, so every process of an install agrees on one."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(make() + "\n")
        try:
            os.link(tmp, path)  # first writer wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    private(path)
    return path.read_text(encoding="ascii").strip()


def private(path: Path) -> None:
    """Owner-only permissions (0600) on a file, when it exists and is not already so."""
    try:
        if path.exists() and (path.stat().st_mode & 0o777) != 0o600:
            path.chmod(0o600)
    except OSError:  # not ours to change (a read-only mount): the operator owns its permissions
        pass
