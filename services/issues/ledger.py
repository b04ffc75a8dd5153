"""The ledger as a file: reading CSV/XLSX imports cell by cell, writing the XLSX export (台账). No I/O."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from contracts import lifecycle
from contracts.enums import TargetOp
from runtime.spreadsheets import append_row, csv_text

COLUMNS = ("code", "round", "category", "title", "region", "responsible_org", "cooperating_orgs",
           "supervising_org", "leader", "deadline", "target_indicator", "target_op", "target_value",
           "target_unit", "measures")
# assigned_on: 交办日期, the date the task was assigned, for a ledger kept elsewhere before it was moved in;
# status, signed_off_on (销号日期), signed_off_by, filed_on (备案日期), filed_by: where it stood when moved in
HISTORY_COLUMNS = ("status", "signed_off_on", "signed_off_by", "filed_on", "filed_by")
# parent_code: 上级任务编号, the code (in the same round) of the task this row is a sub-task of: a row earlier or
# later in the same file, or a task already registered
OPTIONAL_COLUMNS = ("description", "latitude", "longitude", "assigned_on", *HISTORY_COLUMNS, "parent_code")
REQUIRED = ("code", "round", "category", "title", "responsible_org", "supervising_org", "deadline")
MAX_LEN = {"code": 64, "parent_code": 64, "category": 40, "title": 2000, "leader": 200, "target_indicator": 100,
           "target_unit": 40, "measures": 20000, "description": 20000}

STATUS_LABELS = {s.value: label for s, label in lifecycle.LABELS_ZH.items()}
# The status column takes the lifecycle's id or its Chinese label (已交办, 整改中, 已销号, 已备案).
STATUS_BY_TEXT = {**{s: s for s in STATUS_LABELS}, **{label: s for s, label in STATUS_LABELS.items()}}
# An open application for sign-off cannot be moved in: verification would hold no application to decide on.
MOVABLE_IN = ("registered", "in_progress", "signed_off", "filed")
# 上级任务 and 层级 show the breakdown; rows come in tree order (tree_order): each task followed by its sub-tasks
EXPORT_HEADERS = ("编号", "上级任务", "层级", "督察轮次", "类别", "问题(任务)", "区域", "责任单位", "配合单位", "督办单位",
                  "包联领导", "整改时限", "原定时限", "目标指标", "比较", "目标值", "单位", "整改措施", "状态", "逾期天数",
                  "最新进展", "进展(%)", "进展时间", "子任务(未销号/总数)", "分解进度(%)")


@dataclass
class Cell:
    """A bad cell: its spreadsheet row (header = 1), its column, and what is wrong."""

    row: int
    column: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class Sheet:
    """The rows of an uploaded ledger, as text keyed by column, with their row numbers."""

    columns: list[str]
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)


class UnreadableLedger(Exception):
    """The file is neither UTF-8 CSV nor XLSX."""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


MAX_ROWS = 20_000
MAX_ERRORS = 200
MAX_ECHO = 64


def _too_many_rows() -> UnreadableLedger:
    return UnreadableLedger(f"台账超过 {MAX_ROWS} 行,请分批导入 (the ledger has more than {MAX_ROWS} rows; "
                            "import it in parts)")


def echo(text: str) -> str:
    """A client's header cell as it may be shown back: at most MAX_ECHO characters."""
    return text if len(text) <= MAX_ECHO else text[:MAX_ECHO] + "…"


def capped(problems: list[Cell]) -> tuple[str, list[dict[str, Any]]]:
    """The message and the details of a refused import: the first MAX_ERRORS bad cells, and how many in all."""
    shown = [p.as_dict() for p in problems[:MAX_ERRORS]]
    more = f",仅列出前 {MAX_ERRORS} 个 (first {MAX_ERRORS} listed)" if len(problems) > MAX_ERRORS else ""
    return f"{len(problems)} bad cell(s){more}; nothing was imported", shown


def read_sheet(content: bytes) -> Sheet:
    """Read an XLSX (sniffed by its zip signature) or a UTF-8 CSV with or without BOM."""
    if content[:4] == b"PK\x03\x04":
        return _read_xlsx(content)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableLedger(f"the file is neither XLSX nor UTF-8 CSV (byte {exc.start} is not UTF-8)") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise UnreadableLedger("the file is empty")
    columns = [h.strip() for h in header]
    sheet = Sheet(columns=columns)
    for number, values in enumerate(reader, start=2):
        if number > MAX_ROWS + 1:
            raise _too_many_rows()
        if not any(v.strip() for v in values):
            continue
        row = {c: (values[i].strip() if i < len(values) else "") for i, c in enumerate(columns)}
        if len(values) > len(columns):
            row["\x00extra"] = str(len(values) - len(columns))
        sheet.rows.append((number, row))
    return sheet


def _read_xlsx(content: bytes) -> Sheet:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001  openpyxl raises many kinds for a broken file
        raise UnreadableLedger(f"the XLSX file cannot be read: {exc}") from None
    ws = wb.worksheets[0]
    declared = ws.max_row  # from the sheet's <dimension>, before any row is parsed
    if declared is not None and declared > MAX_ROWS + 1:
        wb.close()
        raise _too_many_rows()
    it = ws.iter_rows(values_only=True)
    header = next(it, None)
    if header is None:
        raise UnreadableLedger("the workbook's first sheet is empty")
    columns = [_text(h) for h in header]
    while columns and not columns[-1]:
        columns.pop()
    sheet = Sheet(columns=columns)
    for number, values in enumerate(it, start=2):
        if number > MAX_ROWS + 1:  # a sheet without (or with a lying) dimension
            wb.close()
            raise _too_many_rows()
        texts = [_text(v) for v in values]
        if not any(texts):
            continue
        sheet.rows.append((number, {c: (texts[i] if i < len(texts) else "") for i, c in enumerate(columns)}))
    wb.close()
    return sheet


def check_header(sheet: Sheet) -> list[Cell]:
    """Missing, unknown or repeated columns, reported on row 1."""
    problems = []
    known = set(COLUMNS) | set(OPTIONAL_COLUMNS)
    for name in COLUMNS:
        if name not in sheet.columns:
            problems.append(Cell(1, name, "missing column"))
    seen: set[str] = set()
    for name in sheet.columns:
        if name not in known:
            problems.append(Cell(1, echo(name) or None, f"unknown column; the columns are {', '.join(COLUMNS)}"))
        elif name in seen:
            problems.append(Cell(1, echo(name), "column given twice"))
        seen.add(name)
    return problems


@dataclass
class Refs:
    """What the database already holds that rows refer to."""

    orgs: set[str]
    rounds: set[str]
    existing_codes: set[tuple[str, str]]  # (round, code)
    today: date | None = None  # in Asia/Shanghai: an assigned date after it has not happened yet


def check_rows(sheet: Sheet, refs: Refs) -> tuple[list[dict[str, Any]], list[Cell]]:
    """Every row as the fields of an issue, and every bad cell; fields are usable only when no cell is bad."""
    problems: list[Cell] = []
    issues: list[dict[str, Any]] = []
    first_seen: dict[tuple[str, str], int] = {}
    for number, row in sheet.rows:
        bad: list[Cell] = []

        def flag(column: str | None, message: str, _n: int = number, _bad: list[Cell] = bad) -> None:
            _bad.append(Cell(_n, column, message))

        if "\x00extra" in row:
            flag(None, f"{row.pop(chr(0) + 'extra')} more value(s) than there are columns")
        for name in REQUIRED:
            if not row.get(name):
                flag(name, "required")
        for name, limit in MAX_LEN.items():
            if len(row.get(name, "")) > limit:
                flag(name, f"longer than {limit} characters")
        if row.get("round") and row["round"] not in refs.rounds:
            flag("round", f"unknown round {row['round']}")
        for name in ("responsible_org", "supervising_org", "region"):
            if row.get(name) and row[name] not in refs.orgs:
                flag(name, f"unknown org {row[name]}")
        cooperating = [c.strip() for c in (row.get("cooperating_orgs") or "").split(";") if c.strip()]
        unknown = [c for c in cooperating if c not in refs.orgs]
        if unknown:
            flag("cooperating_orgs", f"unknown org(s) {', '.join(unknown)}")
        if row.get("responsible_org") and row["responsible_org"] in cooperating:
            flag("cooperating_orgs", "the responsible org cannot also be cooperating")
        if row.get("responsible_org") and row["responsible_org"] == row.get("supervising_org"):
            flag("supervising_org", "监管单位不能与责任单位相同 (the supervising org cannot be the responsible org)")
        deadline = None
        if row.get("deadline"):
            try:
                deadline = date.fromisoformat(row["deadline"])
            except ValueError:
                flag("deadline", f"not a date (YYYY-MM-DD): {row['deadline']}")
        assigned_on = _assigned_on(row, deadline, refs.today, flag)
        moved_in = _moved_in(row, assigned_on, refs, flag)
        key = (row.get("round", ""), row.get("code", ""))
        if row.get("code"):
            if key in refs.existing_codes:
                flag("code", f"{row['code']} already exists in round {row.get('round')}")
            elif key in first_seen:
                flag("code", f"{row['code']} repeats row {first_seen[key]}")
            else:
                first_seen[key] = number
        target = _target(row, flag)
        location = _location(row, flag)
        problems.extend(bad)
        if not bad:
            issues.append({
                "code": row["code"], "round_id": row["round"], "category": row["category"], "title": row["title"],
                "description": row.get("description") or None, "region_id": row.get("region") or None,
                "responsible_org_id": row["responsible_org"], "cooperating_org_ids": cooperating,
                "supervising_org_id": row["supervising_org"], "leader": row.get("leader") or None,
                "deadline": deadline, "target": target, "measures": row.get("measures") or None,
                "location": location, "assigned_on": assigned_on, "moved_in": moved_in,
                "parent_code": row.get("parent_code") or None, "row": number,
            })
    return issues, problems


def _assigned_on(row: Mapping[str, str], deadline: date | None, today: date | None, flag: Any) -> date | None:
    """The assigned date (交办日期) of a row, if given: a real date, not after the deadline, not in the future."""
    text = row.get("assigned_on", "")
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        flag("assigned_on", f"not a date (YYYY-MM-DD): {text}")
        return None
    if deadline is not None and day > deadline:
        flag("assigned_on", f"assigned {day.isoformat()}, after its deadline {deadline.isoformat()}")
        return None
    if today is not None and day > today:
        flag("assigned_on", f"{day.isoformat()} has not come yet (today is {today.isoformat()})")
        return None
    return day


def _day(row: Mapping[str, str], name: str, today: date | None, flag: Any) -> date | None:
    """A date cell, if given: a real date, not in the future."""
    text = row.get(name, "")
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        flag(name, f"not a date (YYYY-MM-DD): {text}")
        return None
    if today is not None and day > today:
        flag(name, f"{day.isoformat()} has not come yet (today is {today.isoformat()})")
        return None
    return day


def _moved_in(row: Mapping[str, str], assigned_on: date | None, refs: Refs, flag: Any) -> dict[str, Any] | None:
    """Where a row stood when its ledger was moved in (status, sign-off and filing with their units), checked
    against the lifecycle and against each other; None for a row that starts as registered."""
    text = row.get("status", "")
    status = STATUS_BY_TEXT.get(text) if text else lifecycle.INITIAL.value
    ok = True
    if status is None:
        flag("status", f"unknown status {text}; one of {', '.join(MOVABLE_IN)} "
                       f"({', '.join(STATUS_LABELS[s] for s in MOVABLE_IN)})")
        ok = False
    elif status not in MOVABLE_IN:
        flag("status", f"{text}: an open application for sign-off cannot be moved in (verification holds no "
                       "application to decide on); write in_progress and apply for sign-off here")
        ok = False
    signed_off_on = _day(row, "signed_off_on", refs.today, flag)
    filed_on = _day(row, "filed_on", refs.today, flag)
    ok = ok and not (row.get("signed_off_on") and signed_off_on is None) and not (
        row.get("filed_on") and filed_on is None)
    for name in ("signed_off_by", "filed_by"):
        if row.get(name) and row[name] not in refs.orgs:
            flag(name, f"unknown org {row[name]}")
            ok = False
    for date_col, by_col, allowed in (("signed_off_on", "signed_off_by", ("signed_off", "filed")),
                                      ("filed_on", "filed_by", ("filed",))):
        if status is not None and status in MOVABLE_IN:
            if row.get(date_col) and status not in allowed:
                flag(date_col, f"given for status {status}; only a {' or '.join(allowed)} row has one")
                ok = False
            elif not row.get(date_col) and status in allowed:
                flag(date_col, f"required for status {status}")
                ok = False
        if row.get(by_col) and not row.get(date_col):
            flag(by_col, f"given without {date_col}")
            ok = False
    if signed_off_on is not None:
        if assigned_on is None and not row.get("assigned_on"):
            flag("assigned_on", "required with signed_off_on: the sign-off cannot come before the assignment")
            ok = False
        elif assigned_on is not None and signed_off_on < assigned_on:
            flag("signed_off_on", f"signed off {signed_off_on.isoformat()}, before it was assigned "
                                  f"{assigned_on.isoformat()}")
            ok = False
    if filed_on is not None and signed_off_on is not None and filed_on < signed_off_on:
        flag("filed_on", f"filed {filed_on.isoformat()}, before it was signed off {signed_off_on.isoformat()}")
        ok = False
    if not ok or status == lifecycle.INITIAL.value:
        return None
    return {"status": status, "signed_off_on": signed_off_on, "filed_on": filed_on,
            "signed_off_by": row.get("signed_off_by") or row.get("supervising_org") or None,
            "filed_by": row.get("filed_by") or None}


def _target(row: Mapping[str, str], flag: Any) -> dict[str, Any] | None:
    parts = {k: row.get(f"target_{k}", "") for k in ("indicator", "op", "value", "unit")}
    if not any(parts.values()):
        return None
    ok = True
    for k in ("indicator", "op", "value"):
        if not parts[k]:
            flag(f"target_{k}", "required when a target is given")
            ok = False
    if parts["op"] and parts["op"] not in {o.value for o in TargetOp}:
        flag("target_op", f"must be one of <=, >=, == (got {parts['op']})")
        ok = False
    value = None
    if parts["value"]:
        try:
            value = float(parts["value"])
            if not math.isfinite(value):
                raise ValueError
        except ValueError:
            flag("target_value", f"not a number: {parts['value']}")
            ok = False
    if not ok:
        return None
    return {"indicator": parts["indicator"], "op": parts["op"], "value": value, "unit": parts["unit"] or None}


def _location(row: Mapping[str, str], flag: Any) -> dict[str, float] | None:
    lat, lon = row.get("latitude", ""), row.get("longitude", "")
    if not lat and not lon:
        return None
    out: dict[str, float] = {}
    for name, text, bound in (("latitude", lat, 90.0), ("longitude", lon, 180.0)):
        try:
            value = float(text)
            if not -bound <= value <= bound:
                raise ValueError
            out[name] = value
        except ValueError:
            flag(name, f"a number between -{bound:g} and {bound:g} is required when a location is given")
    return out if len(out) == 2 else None


@dataclass
class ParentRef:
    """A registered task a ledger row names as its parent."""

    issue_id: str
    status: str
    depth: int
    children: int
    deadline: date


def link_parents(fields: list[dict[str, Any]], *, registered: Mapping[tuple[str, str], ParentRef], ids: list[str],
                 max_depth: int, max_children: int) -> tuple[list[dict[str, Any]], list[Cell]]:
    """Resolve each row's parent_code to the parent's id (a row of the file or a registered task) and its depth;
    refuse unknown codes, cycles, trees too deep or too wide, a parent already closed or awaiting sign-off while
    the row is open, and a deadline after the parent's. The rows come back parents first (tree order), each with
    `issue_id`, `parent_id` and `depth`; `ids` gives each row, in file order, its new id."""
    problems: list[Cell] = []
    by_key = {(f["round_id"], f["code"]): n for n, f in enumerate(fields)}
    for f, new in zip(fields, ids, strict=True):
        f["issue_id"] = new

    def open_(f: Mapping[str, Any]) -> bool:
        moved = f.get("moved_in")
        return not (moved and moved["status"] in STATUS_LABELS and lifecycle.is_closed(moved["status"]))

    depth: dict[int, int] = {}
    children: dict[str, int] = {}
    bad: set[int] = set()

    def resolve(n: int, trail: tuple[int, ...]) -> int | None:
        """The depth of row n, following parent codes; None when its chain is broken (reported once)."""
        if n in depth:
            return depth[n]
        if n in bad:
            return None
        f = fields[n]
        if len(trail) > max_depth:  # a chain longer than any tree may be: no need to follow it further
            problems.append(Cell(f["row"], "parent_code", f"任务分解最多 {max_depth} 级 (at most {max_depth} levels)"))
            bad.add(n)
            return None
        code = f.get("parent_code")
        if not code:
            depth[n] = 1
            return 1
        key = (f["round_id"], code)
        if code == f["code"]:
            problems.append(Cell(f["row"], "parent_code", f"{code}: 不能以本行为上级任务 (a task cannot be its own parent)"))
            bad.add(n)
            return None
        if key in by_key:
            m = by_key[key]
            if m in trail:
                loop = " → ".join(fields[i]["code"] for i in (*trail[trail.index(m):], n, m))
                problems.append(Cell(f["row"], "parent_code", f"上级任务编号成环 (the parent codes form a cycle: {loop})"))
                bad.add(n)
                return None
            up = resolve(m, (*trail, n))
            if up is None:
                bad.add(n)
                return None
            parent = fields[m]
            parent_depth, parent_open, parent_deadline = up, open_(parent), parent["deadline"]
            parent_status = (parent.get("moved_in") or {}).get("status", "registered")
            f["parent_id"] = parent["issue_id"]
        elif key in registered:
            ref = registered[key]
            parent_depth, parent_status, parent_deadline = ref.depth, ref.status, ref.deadline
            parent_open = not lifecycle.is_closed(ref.status) and ref.status != "closure_requested"
            children[ref.issue_id] = children.get(ref.issue_id, ref.children)
            f["parent_id"] = ref.issue_id
        else:
            problems.append(Cell(f["row"], "parent_code", f"未知的上级任务编号 {code} (no task {code} in round "
                                                          f"{f['round_id']}, in this file or registered)"))
            bad.add(n)
            return None
        ok = True
        if parent_depth >= max_depth:
            problems.append(Cell(f["row"], "parent_code", f"任务分解最多 {max_depth} 级 (at most {max_depth} levels: "
                                                          f"{code} is at level {parent_depth})"))
            ok = False
        if open_(f) and not parent_open:
            label = STATUS_LABELS.get(parent_status, parent_status)
            problems.append(Cell(f["row"], "parent_code", f"上级任务 {code} 状态为「{label}」,不能再分解 (the parent "
                                                          f"is {parent_status}; an open sub-task goes under an open "
                                                          "task)"))
            ok = False
        if parent_deadline is not None and f["deadline"] is not None and f["deadline"] > parent_deadline:
            problems.append(Cell(f["row"], "deadline", f"子任务时限不能晚于上级任务 {code} 的时限 "
                                                       f"{parent_deadline.isoformat()} (a sub-task is due by its "
                                                       "parent's deadline)"))
            ok = False
        pid = f["parent_id"]
        children[pid] = children.get(pid, 0) + 1
        if children[pid] == max_children + 1:
            problems.append(Cell(f["row"], "parent_code", f"上级任务 {code} 的子任务超过 {max_children} 个 (at most "
                                                          f"{max_children} sub-tasks per task)"))
            ok = False
        if not ok:
            bad.add(n)
            return None
        depth[n] = parent_depth + 1
        return depth[n]

    for n in range(len(fields)):
        resolve(n, ())
    for n, f in enumerate(fields):
        f["depth"] = depth.get(n, 1)
    ordered = sorted(range(len(fields)), key=lambda n: (depth.get(n, 1), n))
    return [fields[n] for n in ordered], problems


def tree_order(issues: Iterable[Any]) -> list[Any]:
    """Tasks in tree order: each followed by its sub-tasks (depth first, by deadline and code), the roots in the
    order given; a task whose parent is not among them stands as a root."""
    items = list(issues)
    ids = {i.id for i in items}
    kids: dict[str, list[Any]] = {}
    roots = []
    for i in items:
        if i.parent_id and i.parent_id in ids:
            kids.setdefault(i.parent_id, []).append(i)
        else:
            roots.append(i)
    for siblings in kids.values():
        siblings.sort(key=lambda i: (i.deadline, i.code))
    out: list[Any] = []
    stack = list(reversed(roots))
    while stack:
        i = stack.pop()
        out.append(i)
        stack.extend(reversed(kids.get(i.id, [])))
    return out


def write_xlsx(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """The 台账 as an XLSX workbook: Chinese headers, one row per issue (keys of EXPORT_HEADERS' order)."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("台账")
    append_row(ws, EXPORT_HEADERS)
    for row in rows:
        append_row(ws, (row.get(h) for h in EXPORT_HEADERS))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def to_csv(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """Rows (keys of COLUMNS) as the ledger CSV, UTF-8 without BOM; text a spreadsheet would evaluate is quoted."""
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: csv_text(row.get(c, "") or "") for c in COLUMNS})
    return buf.getvalue().encode("utf-8")
