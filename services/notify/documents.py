"""Official documents (公文): the monthly bulletin, the weekly dispatch and the half-year account as .docx and .pdf.

A document's content is fixed when its record is written (number, title, addressees, paragraphs, tables, date) and
kept as JSON, so rendering is a pure function of the record and can run later, in a thread, and again after a
failure. The .docx comes from a docxtpl template (its styles name 仿宋_GB2312 and 方正小标宋 for the leaders' Word);
the .pdf from an HTML template through WeasyPrint, which embeds the Noto CJK fonts it uses: no office suite to
start, and the layout is CSS an admin can read. Both templates are files under `templates/`, replaceable by
pointing `CLOSELOOP_NOTIFY_TEMPLATES_DIR` at a folder with the same file names. Files are stored under their SHA-256.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import io
import os
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from runtime.bootstrap import Runtime
from runtime.clock import new_id
from services.notify.domain import date_zh
from services.notify.settings import settings_of
from services.notify.store import DocumentCounter, DocumentRecord, insert_for

log = structlog.get_logger("closeloop.notify.documents")

TEMPLATES = Path(__file__).resolve().parent / "templates"
DOCX_TEMPLATE = "document.docx"
HTML_TEMPLATE = "document.html"
OFFICE = "呼和浩特市生态环境保护督察整改工作领导小组办公室"
# 文号 prefixes, one sequence per kind and year: 呼环督改通〔2020〕3号
PREFIX = {"monthly": "呼环督改通", "weekly": "呼环督改调", "half_year": "呼环督改账", "correction": "呼环督改更"}
KIND_ZH = {"monthly": "月通报", "weekly": "周调度", "half_year": "半年交账", "correction": "更正通报"}
MAX_ATTEMPTS = 10


@dataclass(frozen=True)
class DocTable:
    """One table of a document; `empty` is said instead when it has no rows (a slot that stays visible)."""

    heading: str
    headers: list[str]
    rows: list[list[str]]
    empty: str = "无。"
    left: list[int] = field(default_factory=list)  # columns of running text, aligned left


@dataclass(frozen=True)
class OfficialDocument:
    """What a document says, fixed when it is issued."""

    kind: str
    office: str
    number: str
    title: str
    to: str
    cc: str
    paragraphs: list[str]
    tables: list[DocTable]
    day: date

    def context(self) -> dict[str, Any]:
        """The templates' variables."""
        return {**asdict(self), "date_zh": date_zh(self.day), "day": self.day.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OfficialDocument:
        """Back from the record's JSON."""
        return cls(**{**data, "tables": [DocTable(**t) for t in data["tables"]], "day": date.fromisoformat(data["day"])})

    def to_json(self) -> dict[str, Any]:
        """For the record."""
        return {**asdict(self), "day": self.day.isoformat()}


def number_text(kind: str, year: int, seq: int) -> str:
    """The document number (文号): 呼环督改通〔2020〕12号."""
    return f"{PREFIX[kind]}〔{year}〕{seq}号"


def cell(value: Any) -> str:
    """A table cell as text."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


# --- rendering (pure, blocking: run it in a thread) ------------------------------------------------------------

def render_docx(doc: OfficialDocument, templates: Path = TEMPLATES) -> bytes:
    """The .docx from the docxtpl template; the tables are built in the template's own styles."""
    from docx.enum.style import WD_STYLE_TYPE
    from docxtpl import DocxTemplate

    tpl = DocxTemplate(str(templates / DOCX_TEMPLATE))
    sub = tpl.new_subdoc()
    cell_style: list[str | None] = []

    def style_cell(paragraph: Any) -> None:
        # what `paragraph.style = "表格"` does, with the style's id looked up once per document rather than once
        # per cell (python-docx scans every style of the template for the default on each lookup: two thirds
        # of the rendering time of a bulletin with a long table)
        if not cell_style:
            cell_style.append(paragraph.part.get_style_id("表格", WD_STYLE_TYPE.PARAGRAPH))
        paragraph._p.style = cell_style[0]

    for t in doc.tables:
        sub.add_paragraph(t.heading, style="一级标题")
        if not t.rows:
            sub.add_paragraph(t.empty)
            continue
        table = sub.add_table(rows=1 + len(t.rows), cols=len(t.headers))
        table.style = "Table Grid"
        for r, (row, values) in enumerate(zip(table.rows, [t.headers, *t.rows], strict=True)):
            cells = row.cells  # built anew on each access: once per row
            for c, v in enumerate(values):
                cell_ = cells[c]
                cell_.text = v
                style_cell(cell_.paragraphs[0])
                if r == 0:
                    for run in cell_.paragraphs[0].runs:
                        run.bold = True
    ctx = doc.context()
    ctx["tables"] = sub
    tpl.render(ctx, autoescape=True)
    buf = io.BytesIO()
    tpl.save(buf)
    return buf.getvalue()


def render_pdf(doc: OfficialDocument, templates: Path = TEMPLATES) -> bytes:
    """The .pdf from the HTML template through WeasyPrint (fonts embedded, subset)."""
    import weasyprint

    env, fonts = _pdf_tools(templates)
    html = env.get_template(HTML_TEMPLATE).render(doc.context())
    return weasyprint.HTML(string=html, base_url=str(templates)).write_pdf(  # type: ignore[no-any-return]
        font_config=fonts)


_PDF_TOOLS = threading.local()


def _pdf_tools(templates: Path) -> tuple[Any, Any]:
    """The Jinja environment of a templates folder (it notices a template changed on disk) and a WeasyPrint font
    configuration, kept per thread: setting up fontconfig for every document was a seventh of its time."""
    import jinja2
    from weasyprint.text.fonts import FontConfiguration

    tools: dict[Path, tuple[Any, Any]] = _PDF_TOOLS.__dict__.setdefault("by_folder", {})
    if templates not in tools:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates)), autoescape=True)
        tools[templates] = (env, FontConfiguration())
    return tools[templates]


# --- storage (content-addressed, like evidence) ------------------------------------------------------------------

def path_for(root: Path, sha256: str) -> Path:
    """Where a document with this hash lives."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a SHA-256 hex digest")
    return root / sha256[:2] / sha256[2:4] / sha256


def put(root: Path, content: bytes) -> str:
    """Store content once under its SHA-256 (written atomically) and return the hash."""
    digest = hashlib.sha256(content).hexdigest()
    target = path_for(root, digest)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    return digest


def read(root: Path, sha256: str) -> bytes:
    """A stored document, checked against its hash."""
    content = path_for(root, sha256).read_bytes()
    if hashlib.sha256(content).hexdigest() != sha256:
        raise ValueError(f"stored document {sha256} does not match its hash")
    return content


# --- records -------------------------------------------------------------------------------------------------------

async def allocate_number(session: AsyncSession, *, kind: str, year: int) -> int:
    """The next number of a kind in a year, in the caller's transaction: a rolled-back issue leaves no gap, and the
    row's update lock makes two replicas wait for each other instead of taking the same number."""
    await session.execute(insert_for(session)(DocumentCounter).values(kind=kind, year=year, last=0)
                          .on_conflict_do_nothing())
    return int((await session.execute(
        update(DocumentCounter).where(col(DocumentCounter.kind) == kind, col(DocumentCounter.year) == year)
        .values(last=col(DocumentCounter.last) + 1).returning(col(DocumentCounter.last)))).scalar_one())


async def issue_document(session: AsyncSession, *, owner: str, kind: str, day: date, title: str, to: str, cc: str,
                         paragraphs: list[str], tables: list[DocTable], now: datetime) -> DocumentRecord:
    """Write a document's record with its number (rendered later by `render_pending`)."""
    seq = await allocate_number(session, kind=kind, year=day.year)
    doc = OfficialDocument(kind=kind, office=OFFICE, number=number_text(kind, day.year, seq), title=title, to=to,
                           cc=cc, paragraphs=paragraphs, tables=tables, day=day)
    record = DocumentRecord(id=new_id(), owner=owner, kind=kind, year=day.year, seq=seq, number=doc.number,
                            title=title, content=doc.to_json(), created_at=now)
    session.add(record)
    return record


async def document_of(session: AsyncSession, owner: str) -> DocumentRecord | None:
    """The document of a bulletin or digest."""
    return (await session.execute(select(DocumentRecord).where(col(DocumentRecord.owner) == owner))).scalar_one_or_none()


def documents_root(rt: Runtime) -> Path:
    """Where rendered documents are stored."""
    s = settings_of(rt)
    return s.notify_documents_dir or (s.data_dir / "documents")


def templates_dir(rt: Runtime) -> Path:
    """The templates in use: the admin's folder when set, else the ones shipped."""
    return settings_of(rt).notify_templates_dir or TEMPLATES


def _render_and_store(doc: OfficialDocument, templates: Path, root: Path) -> tuple[str, str]:
    return put(root, render_docx(doc, templates)), put(root, render_pdf(doc, templates))


async def render_pending(rt: Runtime, *, executor: concurrent.futures.Executor | None = None) -> int:
    """Render every document not rendered yet, each in a worker thread (or on `executor`, e.g. a process pool, so
    that rendering runs beside the event loop's work instead of sharing its interpreter); a failure is recorded and
    retried at the next call (the record, and the bulletin, exist already: nothing is lost)."""
    async with rt.read() as session:
        pending = (await session.execute(
            select(DocumentRecord).where(col(DocumentRecord.pdf_sha256).is_(None),
                                         col(DocumentRecord.attempts) < MAX_ATTEMPTS)
            .order_by(col(DocumentRecord.created_at)))).scalars().all()
    done = 0
    for record in pending:
        doc = OfficialDocument.from_json(record.content)
        try:
            if executor is None:
                docx_sha, pdf_sha = await asyncio.to_thread(_render_and_store, doc, templates_dir(rt),
                                                            documents_root(rt))
            else:
                docx_sha, pdf_sha = await asyncio.get_running_loop().run_in_executor(
                    executor, _render_and_store, doc, templates_dir(rt), documents_root(rt))
        except concurrent.futures.BrokenExecutor:
            raise  # the executor's failure, not the document's: its attempts are not spent on it
        except Exception as exc:  # noqa: BLE001 - a template an admin broke must not stop the others
            log.warning("document_render_failed", document=record.id, number=record.number, error=repr(exc))
            values: dict[str, Any] = {"attempts": DocumentRecord.attempts + 1, "error": repr(exc)[:500]}
        else:
            values = {"attempts": DocumentRecord.attempts + 1, "error": None, "docx_sha256": docx_sha,
                      "pdf_sha256": pdf_sha, "rendered_at": datetime.now(UTC)}
            done += 1
        async with rt.sessions() as session, session.begin():
            await session.execute(update(DocumentRecord).where(col(DocumentRecord.id) == record.id).values(**values))
    return done
