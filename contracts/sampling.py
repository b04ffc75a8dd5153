"""The random re-inspection draw (抽查), as a pure function anyone can run again from the draw's recorded inputs.

The inspection office draws signed-off or filed tasks for re-inspection. So that nobody can steer the draw and
anybody can check it, the randomness comes from public inputs written into `sample.drawn`:

- the period, the basis (a share or a count), the stratification (none, region or category);
- the sorted list of candidates, each with its stratum;
- the newest signed checkpoint of the verification log when the draw was made (its size and root): a value the
  office cannot choose and nobody knew before the log reached it.

`seed` hashes them in a fixed text form (`seed_message`), so a verifier in any language rebuilds it byte for byte;
`draw` ranks the candidates of each stratum by SHA-256 of the seed and the issue id and takes the first n, where
n is `allocate`'s: for a share, ceil(share × stratum size) (at least the share, 不低于); for a count, the count
(per stratum when stratified, in all otherwise), never more than the stratum holds. No I/O here.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction

ALGORITHM = "closeloop-sample/v1"
STRATIFY = ("none", "region", "category")
BASES = ("share", "count")
MAX_SHARE_DECIMALS = 4


@dataclass(frozen=True, order=True)
class Candidate:
    """A task that may be drawn, and the stratum it belongs to ("" when the draw is not stratified or the task
    names no region or category)."""

    issue_id: str
    stratum: str = ""


def share_fraction(text: str) -> Fraction:
    """A share written as decimal text ("0.1", "0.25") as an exact fraction in (0, 1]; ValueError otherwise."""
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError) as exc:
        raise ValueError(f"share {text!r} is not a decimal number") from exc
    if not value.is_finite() or value <= 0 or value > 1:
        raise ValueError(f"share {text!r} must be greater than 0 and at most 1")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_SHARE_DECIMALS:
        raise ValueError(f"share {text!r} has more than {MAX_SHARE_DECIMALS} decimals")
    return Fraction(value)


def candidates_digest(candidates: Iterable[Candidate]) -> str:
    """SHA-256 over the candidates sorted by issue id, one `issue_id<TAB>stratum` line each."""
    lines = "".join(f"{c.issue_id}\t{c.stratum}\n" for c in sorted(candidates))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def seed_message(*, period: str, basis: str, share: str | None, count: int | None, stratify_by: str,
                 checkpoint_service: str, checkpoint_size: int, checkpoint_root: str,
                 candidates: Iterable[Candidate]) -> bytes:
    """The exact bytes the seed hashes (a fixed text form, never JSON)."""
    amount = share if basis == "share" else str(count)
    return (f"{ALGORITHM}\n{period}\n{basis}={amount}\n{stratify_by}\n"
            f"{checkpoint_service} {checkpoint_size} {checkpoint_root}\n{candidates_digest(candidates)}\n"
            ).encode()


def seed(**inputs: object) -> str:
    """The draw's seed: SHA-256 of `seed_message` (same keyword arguments), as hex."""
    return hashlib.sha256(seed_message(**inputs)).hexdigest()  # type: ignore[arg-type]


def allocate(sizes: Mapping[str, int], *, basis: str, share: str | None, count: int | None) -> dict[str, int]:
    """How many to draw from each stratum (sizes: candidates per stratum; an unstratified draw has one, "")."""
    out: dict[str, int] = {}
    if basis == "share":
        if share is None:
            raise ValueError("a share draw needs the share")
        fraction = share_fraction(share)
        for stratum, n in sizes.items():
            out[stratum] = min(n, math.ceil(fraction * n))
        return out
    if count is None or count < 1:
        raise ValueError("a count draw needs a count of at least 1")
    return {stratum: min(n, count) for stratum, n in sizes.items()}


def rank_key(seed_hex: str, issue_id: str) -> str:
    """Where a candidate stands in its stratum's draw order: SHA-256 of the seed, a newline and the issue id."""
    return hashlib.sha256(f"{seed_hex}\n{issue_id}".encode()).hexdigest()


@dataclass(frozen=True)
class Stratum:
    """One stratum of a draw: its name, how many candidates it had and how many were drawn."""

    stratum: str
    candidates: int
    drawn: int


@dataclass(frozen=True)
class Draw:
    """What a draw gives: the seed, each stratum's counts, and the drawn candidates (stratum by stratum, each
    in draw order)."""

    seed: str
    strata: list[Stratum]
    items: list[Candidate]


def draw(*, period: str, basis: str, share: str | None, count: int | None, stratify_by: str,
         checkpoint_service: str, checkpoint_size: int, checkpoint_root: str,
         candidates: Iterable[Candidate]) -> Draw:
    """The whole draw from its public inputs; the same inputs always give the same tasks."""
    if basis not in BASES:
        raise ValueError(f"basis {basis!r} is none of {', '.join(BASES)}")
    if stratify_by not in STRATIFY:
        raise ValueError(f"stratify_by {stratify_by!r} is none of {', '.join(STRATIFY)}")
    pool = sorted(set(candidates))
    ids = [c.issue_id for c in pool]
    if len(set(ids)) != len(ids):
        raise ValueError("a task is a candidate twice (in two strata)")
    if stratify_by == "none" and any(c.stratum for c in pool):
        raise ValueError("an unstratified draw's candidates carry no stratum")
    seed_hex = seed(period=period, basis=basis, share=share, count=count, stratify_by=stratify_by,
                    checkpoint_service=checkpoint_service, checkpoint_size=checkpoint_size,
                    checkpoint_root=checkpoint_root, candidates=pool)
    by_stratum: dict[str, list[Candidate]] = {}
    for c in pool:
        by_stratum.setdefault(c.stratum, []).append(c)
    sizes = {s: len(cs) for s, cs in sorted(by_stratum.items())}
    quota = allocate(sizes, basis=basis, share=share, count=count)
    strata: list[Stratum] = []
    items: list[Candidate] = []
    for stratum, members in sorted(by_stratum.items()):
        ranked = sorted(members, key=lambda c: (rank_key(seed_hex, c.issue_id), c.issue_id))
        chosen = ranked[:quota[stratum]]
        strata.append(Stratum(stratum=stratum, candidates=len(members), drawn=len(chosen)))
        items.extend(chosen)
    return Draw(seed=seed_hex, strata=strata, items=items)


MIN_YEAR, MAX_YEAR = 2000, 2100


def period_days(label: str) -> tuple[date, date]:
    """The first and last day of a period label: `2020-09` (month), `2020-H2` (half year), `2020` (year)."""
    text = label.strip()
    parts = text.split("-")
    year = int(parts[0]) if len(parts[0]) == 4 and parts[0].isascii() and parts[0].isdigit() else -1
    if not MIN_YEAR <= year <= MAX_YEAR or len(parts) > 2:
        raise ValueError(f"period {label!r} is not YYYY-MM, YYYY-H1, YYYY-H2 or YYYY of {MIN_YEAR}–{MAX_YEAR}")
    if len(parts) == 1:
        return date(year, 1, 1), date(year, 12, 31)
    part = parts[1]
    if part in ("H1", "H2"):
        return (date(year, 1, 1), date(year, 6, 30)) if part == "H1" else (date(year, 7, 1), date(year, 12, 31))
    if len(part) == 2 and part.isascii() and part.isdigit() and 1 <= int(part) <= 12:
        month = int(part)
        after = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        return date(year, month, 1), after - timedelta(days=1)
    raise ValueError(f"period {label!r} is not YYYY-MM, YYYY-H1, YYYY-H2 or YYYY")
