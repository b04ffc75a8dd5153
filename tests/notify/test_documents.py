"""Bulletins and digests as official documents (公文): numbered without gaps, rendered to .docx and .pdf from the
templates, stored under their SHA-256, downloaded, and read back (pdftotext, pdftoppm, python-docx)."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from docx import Document

from runtime.clock import SettableClock
from services.notify.documents import render_pending
from tests.notify.helpers import ISSUES, SCORING, org, registered, sh
from tests.notify.test_bulletins import ranking
from tests.support import running

ARTEFACTS = Path(__file__).resolve().parents[2] / "var" / "documents"


def pdf_text(pdf: bytes, tmp: Path) -> str:
    assert shutil.which("pdftotext"), "poppler-utils is missing: scripts/install-documents.sh installs it"
    src = tmp / "doc.pdf"
    src.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(src), "-"], check=True, capture_output=True, text=True).stdout


def pdf_pngs(pdf: bytes, name: str, tmp: Path) -> list[Path]:
    """Every page as a PNG, kept under var/documents/ for people to look at."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    src = tmp / f"{name}.pdf"
    src.write_bytes(pdf)
    for old in ARTEFACTS.glob(f"{name}-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(src), str(ARTEFACTS / name)], check=True)
    shutil.copy(src, ARTEFACTS / f"{name}.pdf")
    return sorted(ARTEFACTS.glob(f"{name}-*.png"))


def pdf_fonts(pdf: bytes, tmp: Path) -> str:
    src = tmp / "fonts.pdf"
    src.write_bytes(pdf)
    return subprocess.run(["pdffonts", str(src)], check=True, capture_output=True, text=True).stdout


def docx_fonts(docx: bytes) -> dict[str, str | None]:
    d = Document(io.BytesIO(docx))
    out: dict[str, str | None] = {}
    for name in ("Normal", "发文机关", "公文标题"):
        rfonts = d.styles[name].element.rPr.rFonts
        out[name] = rfonts.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia")
    return out


def docx_cell_styles(docx: bytes) -> set[tuple[str, bool]]:
    """(style, bold) of the first paragraph of every table cell: every cell in 「表格」, the header row bold."""
    d = Document(io.BytesIO(docx))
    return {(c.paragraphs[0].style.name, all(run.bold for run in c.paragraphs[0].runs) if r == 0 else False)
            for t in d.tables for r, row in enumerate(t.rows) for c in row.cells}


def docx_text(docx: bytes) -> str:
    d = Document(io.BytesIO(docx))
    cells = [c.text for t in d.tables for row in t.rows for c in row.cells]
    return "\n".join([p.text for p in d.paragraphs] + cells)


async def test_the_monthly_bulletin_is_an_official_document_in_docx_and_pdf(tmp_path: Path) -> None:
    clock = SettableClock(sh("2020-07-05T10:00"))
    async with running("notify", tmp_path, clock=clock) as s:
        await s.deliver(org("city-eeb", "呼和浩特市生态环境局"))
        late = str(uuid.uuid4())
        await s.deliver(registered(late, deadline="2020-06-30", code="HH-2020-007"))
        await s.deliver(ISSUES.make("issue.progress_reported", late, {
            "issue_id": late, "responsible_org_id": "city-eeb", "note": "拆除散煤炉具", "percent": 40}))
        assert await s.deliver(SCORING.make("ranking.published", "rk-1", ranking("rk-1"))) == "handled"
        assert await s.deliver(SCORING.make("ranking.published", "rk-2", ranking("rk-2"))) == "handled"
        who = s.auth(org="city-water", roles="responsible")
        r = await s.client.get("/v1/bulletins/rk-1", headers=who)
        doc = r.json()["document"]
        assert doc["number"] == "呼环督改通〔2020〕1号" and doc["pdf_sha256"] is None
        r = await s.client.get("/v1/bulletins/rk-1/pdf", headers=who)
        assert r.status_code == 409 and "尚未生成" in r.json()["error"]["message"]

        assert await render_pending(s.rt) == 2
        assert await render_pending(s.rt) == 0
        r = await s.client.get("/v1/bulletins/rk-2", headers=who)
        assert r.json()["document"]["number"] == "呼环督改通〔2020〕2号"  # one sequence per kind and year
        r = await s.client.get("/v1/bulletins/rk-1", headers=who)
        doc = r.json()["document"]
        pdf = await s.client.get(doc["pdf_url"], headers=who)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert hashlib.sha256(pdf.content).hexdigest() == doc["pdf_sha256"]
        docx = await s.client.get(doc["docx_url"], headers=who)
        assert docx.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.wordprocessing")
        assert hashlib.sha256(docx.content).hexdigest() == doc["docx_sha256"]

    assert pdf_pngs(pdf.content, "monthly", tmp_path)
    text = "".join(pdf_text(pdf.content, tmp_path).split())  # lines wrap where the page ends them
    for expected in ("呼和浩特市生态环境保护督察整改工作领导小组办公室", "呼环督改通〔2020〕1号",
                     "2020年6月生态环境保护督察整改部门考核月通报", "各旗县区人民政府", "呼和浩特市水务局",
                     "92.50", "61.25", "扣减年度考核分2分", "HH-2020-007", "抽查复核", "本期暂无抽查复核结果",
                     "2020年7月5日", "抄送"):
        assert expected in text, expected
    assert text.index("呼和浩特市水务局") < text.index("61.25")  # the ranking's rows in rank order
    assert "呼和浩特市生态环境局考核排名靠后" in text
    fonts = pdf_fonts(pdf.content, tmp_path)
    assert "Noto-Serif-CJK-SC" in fonts and all(line.split()[-5:-3] == ["yes", "yes"] for line in fonts.splitlines()[2:])
    assert pdf_pngs(pdf.content, "monthly", tmp_path)

    assert docx_fonts(docx.content) == {"Normal": "仿宋_GB2312", "发文机关": "方正小标宋简体", "公文标题": "方正小标宋简体"}
    assert docx_cell_styles(docx.content) == {("表格", True), ("表格", False)}
    words = docx_text(docx.content)
    for expected in ("呼环督改通〔2020〕1号", "2020年6月生态环境保护督察整改部门考核月通报", "呼和浩特市生态环境局",
                     "61.25", "HH-2020-007", "2020年7月5日"):
        assert expected in words, expected
    assert "{{" not in words and "{%" not in words


async def test_the_weekly_dispatch_and_the_half_year_account_are_official_documents(tmp_path: Path) -> None:
    clock = SettableClock(sh("2020-07-06T09:30"))
    async with running("notify", tmp_path, clock=clock) as s:
        await s.deliver(org("city-eeb", "呼和浩特市生态环境局"))
        june = sh("2020-06-01T10:00")
        await s.deliver(registered(str(uuid.uuid4()), deadline="2020-06-30", code="HH-2020-007", at=june))
        await s.deliver(registered(str(uuid.uuid4()), deadline="2020-07-10", code="HH-2020-011", at=june))
        admin = s.auth(roles="admin")
        assert (await s.client.post("/v1/digests/weekly", headers=admin)).status_code == 201
        assert (await s.client.post("/v1/digests/weekly", headers=admin)).status_code == 201
        assert (await s.client.post("/v1/digests/half-year", headers=admin, json={"period": "2020-H1"})).status_code == 201
        assert await render_pending(s.rt) == 3
        digests = (await s.client.get("/v1/digests", headers=s.auth(roles="leader"))).json()["items"]
        docs = {d["document"]["number"]: d for d in digests if d["document"]}
        assert sorted(docs) == ["呼环督改调〔2020〕1号", "呼环督改调〔2020〕2号", "呼环督改账〔2020〕1号"]
        files = {}
        for number, name in (("呼环督改调〔2020〕1号", "weekly"), ("呼环督改账〔2020〕1号", "half_year")):
            d = docs[number]["document"]
            pdf = await s.client.get(d["pdf_url"], headers=s.auth(roles="leader"))
            docx = await s.client.get(d["docx_url"], headers=s.auth(roles="leader"))
            assert pdf.status_code == docx.status_code == 200
            files[name] = (number, pdf.content, docx.content)

    number, pdf, docx = files["weekly"]
    text = "".join(pdf_text(pdf, tmp_path).split())
    for expected in (number, "生态环境保护督察整改工作周调度(2020-W28)", "呼和浩特市生态环境局", "HH-2020-007",
                     "HH-2020-011", "即将到期", "2020年7月6日"):
        assert expected in text, expected
    assert pdf_pngs(pdf, "weekly", tmp_path)
    assert docx_fonts(docx)["Normal"] == "仿宋_GB2312" and number in docx_text(docx)
    number, pdf, docx = files["half_year"]
    text = "".join(pdf_text(pdf, tmp_path).split())
    for expected in (number, "2020年上半年生态环境保护督察整改工作交账情况", "呼和浩特市生态环境局", "完成率",
                     "本期暂无抽查复核结果", "2020年7月6日"):
        assert expected in text, expected
    assert pdf_pngs(pdf, "half_year", tmp_path)
    assert docx_fonts(docx)["公文标题"] == "方正小标宋简体" and number in docx_text(docx)


async def test_a_broken_template_loses_no_bulletin_and_is_retried(tmp_path: Path) -> None:
    broken = tmp_path / "templates"
    broken.mkdir()
    (broken / "document.html").write_text("{% for %}", encoding="utf-8")
    clock = SettableClock(sh("2020-07-05T10:00"))
    async with running("notify", tmp_path, clock=clock, notify_templates_dir=broken) as s:
        assert await s.deliver(SCORING.make("ranking.published", "rk-9", ranking("rk-9"))) == "handled"
        assert await render_pending(s.rt) == 0
        who = s.auth(roles="leader")
        doc = (await s.client.get("/v1/bulletins/rk-9", headers=who)).json()["document"]
        assert doc["pdf_sha256"] is None and doc["error"]
        assert (await s.client.get("/v1/bulletins/rk-9/html", headers=who)).status_code == 200  # the bulletin stands
    async with running("notify", tmp_path, clock=clock) as s:  # the admin puts the templates right
        assert await render_pending(s.rt) == 1
        doc = (await s.client.get("/v1/bulletins/rk-9", headers=s.auth(roles="leader"))).json()["document"]
        assert doc["pdf_sha256"] and doc["error"] is None


@pytest.fixture(autouse=True)
def _poppler() -> None:
    assert shutil.which("pdftoppm"), "poppler-utils is missing: scripts/install-documents.sh installs it"
