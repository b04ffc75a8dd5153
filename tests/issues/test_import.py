"""Importing a ledger: all rows in one transaction, or none with every bad cell named; seeding through it."""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import Workbook, load_workbook

from services.issues.ledger import COLUMNS, EXPORT_HEADERS
from tests.issues.helpers import ROUND, issue_by_code, ledger_rows, load_orgs_and_round, load_reference
from tests.support import DATA, running


def csv_bytes(rows: list[dict[str, str]], *, bom: bool = False) -> bytes:
    import csv

    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else list(COLUMNS), lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8")


async def count_issues(s) -> int:  # type: ignore[no-untyped-def]
    r = await s.client.get("/v1/issues", params={"limit": 500}, headers=s.auth(roles="auditor"))
    return len(r.json()["items"])


async def test_reference_ledger_imports_all_34_rows_in_one_request(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        before = len(await s.events())
        r = await s.client.post("/v1/issues/import", headers=s.auth(org="inspection-office", roles="admin"),
                                files={"file": ("ledger.csv", (DATA / "ledger.csv").read_bytes(), "text/csv")})
        assert r.status_code == 201, r.text
        assert r.json()["created"] == 34
        assert await count_issues(s) == 34
        new = (await s.events())[before:]
        assert [e["type"] for e in new] == ["issue.registered"] * 34
        pm25 = await issue_by_code(s, "HH-2020-004")
        assert pm25["target"] == {"indicator": "pm25_annual_mean", "op": "<=", "value": 35.0, "unit": "ug/m3"}
        assert pm25["cooperating_org_ids"] == ["city-ndrc", "city-housing", "city-transport"]
        assert pm25["deadline"] == "2020-12-31" and pm25["status"] == "registered"


async def test_csv_with_bom_and_xlsx_import_the_same_rows(tmp_path: Path) -> None:
    rows = ledger_rows()[:3]
    async with running("issues", tmp_path / "a") as a, running("issues", tmp_path / "b") as b:
        await load_orgs_and_round(a)
        await load_orgs_and_round(b)
        r = await a.client.post("/v1/issues/import", headers=a.auth(roles="admin"), content=csv_bytes(rows, bom=True))
        assert r.status_code == 201, r.text
        wb = Workbook()
        ws = wb.active
        ws.append(list(COLUMNS))
        for row in rows:
            ws.append([row[c] or None for c in COLUMNS])
        buf = io.BytesIO()
        wb.save(buf)
        r = await b.client.post("/v1/issues/import", headers=b.auth(roles="admin"),
                                files={"file": ("ledger.xlsx", buf.getvalue(), "application/octet-stream")})
        assert r.status_code == 201, r.text
        for code in (row["code"] for row in rows):
            ia, ib = await issue_by_code(a, code), await issue_by_code(b, code)
            for key in ("title", "measures", "leader", "deadline", "target", "cooperating_org_ids", "category"):
                assert ia[key] == ib[key], key


async def test_bad_cells_are_all_named_and_nothing_is_created(tmp_path: Path) -> None:
    rows = ledger_rows()[:6]
    rows[0]["deadline"] = "2020-13-01"            # row 2
    rows[1]["responsible_org"] = "no-such-org"     # row 3
    rows[2]["code"] = rows[0]["code"]              # row 4: repeats row 2
    rows[3]["target_op"] = "<"                     # row 5 (it has a target)
    rows[4]["title"] = ""                          # row 6
    rows[5]["round"] = "no-such-round"             # row 7
    rows[5]["cooperating_orgs"] = "city-eeb;ghost"
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        before = len(await s.events())
        r = await s.client.post("/v1/issues/import", headers=s.auth(roles="admin"), content=csv_bytes(rows))
        assert r.status_code == 422, r.text
        cells = {(d["row"], d["column"]) for d in r.json()["error"]["details"]}
        assert cells == {(2, "deadline"), (3, "responsible_org"), (4, "code"), (5, "target_op"), (6, "title"),
                         (7, "round"), (7, "cooperating_orgs")}
        assert all(d["message"] for d in r.json()["error"]["details"])
        assert await count_issues(s) == 0
        assert len(await s.events()) == before


async def test_a_code_already_in_the_round_refuses_the_whole_file(tmp_path: Path) -> None:
    rows = ledger_rows()[:2]
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        admin = s.auth(roles="admin")
        assert (await s.client.post("/v1/issues/import", headers=admin, content=csv_bytes(rows[:1]))).status_code == 201
        r = await s.client.post("/v1/issues/import", headers=admin, content=csv_bytes(rows))
        assert r.status_code == 422
        assert [(d["row"], d["column"]) for d in r.json()["error"]["details"]] == [(2, "code")]
        assert await count_issues(s) == 1


async def test_missing_columns_and_non_utf8_are_refused(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        admin = s.auth(roles="admin")
        r = await s.client.post("/v1/issues/import", headers=admin, content="code,title\nA,标题\n".encode())
        assert r.status_code == 422
        assert {d["column"] for d in r.json()["error"]["details"]} >= {"round", "deadline", "responsible_org"}
        r = await s.client.post("/v1/issues/import", headers=admin, content="code,标题\n".encode("gb18030"))
        assert r.status_code == 422 and "UTF-8" in r.json()["error"]["message"]


async def test_chinese_text_survives_csv_database_xlsx_and_json_byte_for_byte(tmp_path: Path) -> None:
    rows = ledger_rows()[:5]
    rows[0]["title"] = "「黑臭水体」治理——𠀀𪚥 ǖ 全角，标点；引号\"内\"与换行\n第二行"
    rows[0]["measures"] = "措施①；措施②（含 ASCII, commas）"
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        admin = s.auth(roles="admin")
        r = await s.client.post("/v1/issues/import", headers=admin, content=csv_bytes(rows))
        assert r.status_code == 201, r.text
        r = await s.client.get("/v1/issues/export", headers=admin)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
        sheet = load_workbook(io.BytesIO(r.content)).active
        header = [c.value for c in sheet[1]]
        assert tuple(header) == EXPORT_HEADERS
        exported = {row[0]: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)}
        for row in rows:
            item = await issue_by_code(s, row["code"])
            for column, key, label in (("title", "title", "问题(任务)"), ("measures", "measures", "整改措施"),
                                       ("leader", "leader", "包联领导")):
                original = row[column].encode("utf-8")
                assert item[key].encode("utf-8") == original
                assert str(exported[row["code"]][label]).encode("utf-8") == original
            assert exported[row["code"]]["状态"] == "已交办"  # the one label of contracts.lifecycle


async def test_seed_is_idempotent_and_goes_through_the_import(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        first = await load_reference(s)
        assert first == {"orgs": 23, "rounds": 1, "issues": 34}
        events = len(await s.events())
        again = await load_reference(s)
        assert again == {"orgs": 0, "rounds": 0, "issues": 0}
        assert len(await s.events()) == events
        assert await count_issues(s) == 34
        r = await s.client.get(f"/v1/rounds/{ROUND}", headers=s.auth(roles="leader"))
        assert r.json()["feedback_on"] == "2020-05-17"


async def test_the_assigned_date_of_each_row_travels_in_issue_registered(tmp_path: Path) -> None:
    rows = ledger_rows()[:2]
    assert {row["assigned_on"] for row in ledger_rows()} == {"2020-05-17"}  # the plan's feedback date, every task
    rows[1]["assigned_on"] = ""                                               # optional per row
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        before = len(await s.events())
        r = await s.client.post("/v1/issues/import", headers=s.auth(roles="admin"), content=csv_bytes(rows))
        assert r.status_code == 201, r.text
        new = (await s.events())[before:]
        assert [(e["data"]["code"], e["data"]["assigned_on"]) for e in new] == [
            (rows[0]["code"], "2020-05-17"), (rows[1]["code"], None)]


async def test_bad_assigned_dates_are_named_per_cell_and_nothing_is_created(tmp_path: Path) -> None:
    rows = ledger_rows()[:4]
    rows[0]["assigned_on"] = "2020-02-30"         # row 2: no such day
    rows[1]["assigned_on"] = "17/05/2020"         # row 3: not ISO
    rows[2]["assigned_on"] = "2021-01-01"         # row 4: after its deadline 2020-12-31
    rows[3]["deadline"] = "2099-12-31"
    rows[3]["assigned_on"] = "2099-01-01"         # row 5: has not come yet
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        before = len(await s.events())
        r = await s.client.post("/v1/issues/import", headers=s.auth(roles="admin"), content=csv_bytes(rows))
        assert r.status_code == 422, r.text
        details = r.json()["error"]["details"]
        assert [(d["row"], d["column"]) for d in details] == [(2, "assigned_on"), (3, "assigned_on"),
                                                               (4, "assigned_on"), (5, "assigned_on")]
        assert "after its deadline" in details[2]["message"] and "has not come yet" in details[3]["message"]
        assert await count_issues(s) == 0
        assert len(await s.events()) == before
