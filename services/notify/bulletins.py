"""The monthly bulletin (月通报): a published ranking, its named and penalised units and the overdue list."""

from __future__ import annotations

import html
import io
import json
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts.events.notify import DigestPublished
from contracts.events.scoring import RankingCorrection, RankingPublished
from runtime.clock import new_id
from runtime.outbox import UnitOfWork
from runtime.spreadsheets import append_row
from services.notify import domain
from services.notify.documents import DocTable, document_of, issue_document
from services.notify.documents import cell as doc_cell
from services.notify.notices import Directory, Recipient, notify
from services.notify.store import AppealView, Bulletin, Digest, IssueView, OrgView, Reinspection, insert_for

RANKING_HEADERS = ["排名", "单位", "单位编码", "综合得分"]
RANKING_TAIL = ["逾期任务数", "通报", "经济处罚"]
REINSPECTION_HEADERS = ["编号", "整改任务", "责任单位", "分层", "复核结果", "复核单位"]
OVERDUE_HEADERS = ["编号", "整改任务", "责任单位", "监管单位", "包联领导", "整改时限", "逾期天数", "状态", "最新进展"]


async def org_names(session: AsyncSession) -> dict[str, str]:
    """Org id → name, as registered."""
    return dict((await session.execute(select(col(OrgView.id), col(OrgView.name)))).all())


async def overdue_issues(session: AsyncSession, *, now: datetime) -> list[IssueView]:
    """Open issues whose deadline has passed at `now`, most overdue first."""
    today = domain.shanghai_day(now)
    rows = (await session.execute(
        select(IssueView).where(col(IssueView.status).in_(domain.OPEN_STATUSES), col(IssueView.deadline) < today,
                                col(IssueView.moves_pending) == 0)
        .order_by(col(IssueView.deadline), col(IssueView.code))
    )).scalars().all()
    return list(rows)


async def reinspection_rows(session: AsyncSession, *, period: str, names: dict[str, str]) -> list[list[Any]]:
    """The tasks drawn for re-inspection (抽查) in draws of the period and what each re-inspection found, header
    row first; only the header when there were none."""
    rows = (await session.execute(
        select(Reinspection, col(IssueView.title)).outerjoin(IssueView, col(IssueView.id) == col(Reinspection.issue_id))
        .where(col(Reinspection.period) == period)
        .order_by(col(Reinspection.sample_id), col(Reinspection.position), col(Reinspection.issue_id))
    )).all()
    out: list[list[Any]] = [REINSPECTION_HEADERS]
    for r, title in rows:
        out.append([r.code or r.issue_id, title or "", names.get(r.responsible_org_id, r.responsible_org_id),
                    names.get(r.stratum, r.stratum) if r.stratum else "", domain.REINSPECTION_ZH.get(r.outcome, r.outcome or ""),
                    names.get(r.reinspector_org_id, r.reinspector_org_id) if r.reinspector_org_id else ""])
    return out


def reinspection_summary(rows: list[list[Any]]) -> str | None:
    """One sentence of the re-inspections' outcomes, or None when the period had no draw."""
    outcomes = [r[4] for r in rows[1:]]
    if not outcomes:
        return None
    count = {label: outcomes.count(label) for label in domain.REINSPECTION_ZH.values()}
    return (f"本期抽查复核已销号任务 {len(outcomes)} 项:复核属实 {count['复核属实']} 项,发现反弹 "
            f"{count['发现反弹']} 项,待复核 {count['待复核']} 项。")


def penalty_text(penalty: dict[str, Any] | None) -> str:
    """A penalty as the scheme wrote it, readable."""
    if not penalty:
        return ""
    if "description" in penalty:
        return str(penalty["description"])
    return json.dumps(penalty, ensure_ascii=False, sort_keys=True)


def tables(ranking: RankingPublished, overdue: list[IssueView], names: dict[str, str],
           now: datetime) -> tuple[list[list[Any]], list[list[Any]]]:
    """The bulletin's two tables (header row first): the ranking, and the overdue list."""
    components: list[str] = []
    for row in ranking.rows:
        components += [c for c in row.components if c not in components]
    ranking_rows: list[list[Any]] = [RANKING_HEADERS + [domain.COMPONENT_ZH.get(c, c) for c in components]
                                     + RANKING_TAIL]
    for row in sorted(ranking.rows, key=lambda r: r.rank):
        ranking_rows.append([row.rank, row.org_name or names.get(row.org_id, row.org_id), row.org_id, row.score]
                            + [row.components.get(c) for c in components]
                            + [row.overdue, "是" if row.org_id in ranking.bottom_named else "",
                               penalty_text(row.penalty) or ("是" if row.org_id in ranking.penalized else "")])
    overdue_rows: list[list[Any]] = [OVERDUE_HEADERS]
    for i in overdue:
        overdue_rows.append([i.code, i.title, names.get(i.responsible_org_id, i.responsible_org_id),
                             names.get(i.supervising_org_id, i.supervising_org_id), i.leader or "",
                             i.deadline.isoformat(), domain.days_overdue(i.deadline, now),
                             domain.STATUS_ZH.get(i.status, i.status),
                             f"{i.progress_percent}% {i.progress_note}" if i.progress_note else "暂无进展"])
    return ranking_rows, overdue_rows


def render_xlsx(title: str, ranking_rows: list[list[Any]], overdue_rows: list[list[Any]],
                reinspection: list[list[Any]] | None = None) -> bytes:
    """Two sheets, 排名 and 逾期清单 (and 抽查复核 when the period had a draw), Chinese headers in bold on row 2."""
    wb = Workbook()
    sheets = [(wb.active, ranking_rows, "排名"), (wb.create_sheet(), overdue_rows, "逾期清单")]
    if reinspection and len(reinspection) > 1:
        sheets.append((wb.create_sheet(), reinspection, "抽查复核"))
    for ws, rows, name in sheets:
        ws.title = name
        append_row(ws, [title])
        ws["A1"].font = Font(bold=True, size=14)
        for r in rows:
            append_row(ws, r)
        for cell in ws[2]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A3"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def render_html(title: str, summary: list[str], ranking_rows: list[list[Any]], overdue_rows: list[list[Any]],
                reinspection: list[list[Any]] | None = None) -> str:
    """A plain, self-contained HTML page; every value escaped."""
    def table(rows: list[list[Any]]) -> str:
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in rows[0])
        body = "".join("<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in r) + "</tr>"
                       for r in rows[1:])
        return f"<table border=\"1\" cellspacing=\"0\" cellpadding=\"4\"><thead><tr>{head}</tr></thead>" \
               f"<tbody>{body}</tbody></table>"
    paras = "".join(f"<p>{html.escape(s)}</p>" for s in summary)
    return (f"<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"</head><body><h1>{html.escape(title)}</h1>{paras}<h2>排名</h2>{table(ranking_rows)}"
            f"<h2>逾期清单</h2>{table(overdue_rows)}"
            + (f"<h2>抽查复核</h2>{table(reinspection)}" if reinspection and len(reinspection) > 1 else "")
            + "</body></html>")


TO_ALL = "各旗县区人民政府,市直各有关部门"
CC_LEADERS = "市委办公室,市人大常委会办公室,市政府办公室,市政协办公室,各位包联领导"


APPEAL_HEADERS = ["申诉单位", "所涉排名", "申诉事项", "申诉日期", "复核结论", "复核日期", "复核意见"]


async def appeals_to_report(session: AsyncSession, ranking: RankingPublished) -> list[AppealView]:
    """The appeals of the ranking's kind filed or decided since the previous monthly bulletin of that kind (all
    before this publication): what the next bulletin reports (申诉复核情况)."""
    since = (await session.execute(
        select(func.max(col(Bulletin.published_at))).where(
            col(Bulletin.kind) == ranking.kind, col(Bulletin.appeal_id).is_(None),
            col(Bulletin.published_at) < ranking.published_at, col(Bulletin.id) != ranking.ranking_id))).scalar()
    until = ranking.published_at
    filed = col(AppealView.filed_at) < until
    decided = and_(col(AppealView.decided_at).is_not(None), col(AppealView.decided_at) < until)
    if since is not None:
        filed = and_(filed, col(AppealView.filed_at) >= since)
        decided = and_(decided, col(AppealView.decided_at) >= since)
    rows = (await session.execute(select(AppealView).where(col(AppealView.kind) == ranking.kind, or_(filed, decided))
                                  .order_by(col(AppealView.filed_at), col(AppealView.id)))).scalars().all()
    return list(rows)


def appeal_status_at(appeal: AppealView, at: datetime) -> str:
    """The appeal's state as a bulletin published at `at` reports it."""
    return appeal.status if appeal.decided_at is not None and appeal.decided_at < at else "pending"


def appeal_rows(appeals: list[AppealView], names: dict[str, str], at: datetime) -> list[list[str]]:
    """The bulletin's table of appeals (header row first)."""
    rows = [APPEAL_HEADERS]
    for a in appeals:
        status = appeal_status_at(a, at)
        decided = status != "pending" and a.decided_at is not None
        verdict = domain.OUTCOME_ZH[status] + ("(逾期复核)" if decided and a.late else "")
        rows.append([a.org_name or names.get(a.org_id, a.org_id), domain.month_zh(a.period),
                     f"{domain.COMPONENT_ZH.get(a.component, a.component)}(原 {a.disputed_value:g} 分)",
                     domain.shanghai_day(a.filed_at).isoformat(), verdict,
                     domain.shanghai_day(a.decided_at).isoformat() if decided and a.decided_at else "",
                     (a.reasons or "") if decided else f"复核期限 {a.decision_due.isoformat()}"])
    return rows


def appeals_paragraph(appeals: list[AppealView], at: datetime) -> str:
    """四、申诉复核情况: how many were filed and decided since the last bulletin, by outcome, and how many late."""
    if not appeals:
        return "四、申诉复核情况。自上期通报以来,无单位对考核排名提出申诉。"
    statuses = [appeal_status_at(a, at) for a in appeals]
    decided = [a for a, st in zip(appeals, statuses, strict=True) if st != "pending"]
    by = {k: statuses.count(k) for k in ("upheld", "partly_upheld", "refused", "pending")}
    late = sum(1 for a in decided if a.late)
    return (f"四、申诉复核情况。自上期通报以来,涉及考核排名申诉 {len(appeals)} 件,已作出复核决定 {len(decided)} 件"
            f"(成立 {by['upheld']} 件、部分成立 {by['partly_upheld']} 件、不成立 {by['refused']} 件),"
            f"正在复核 {by['pending']} 件" + (f",其中逾期复核 {late} 件" if late else "") + ",明细见附表4。")


def document_paragraphs(ranking: RankingPublished, names: dict[str, str], overdue: list[IssueView],
                        reinspected: str | None = None, appeals: list[AppealView] | None = None) -> list[str]:
    """The body of the monthly bulletin as an official document."""
    def named(ids: list[str]) -> str:
        return "、".join(names.get(o, o) for o in ids) or "无"
    kind_zh = domain.KIND_ZH.get(ranking.kind, ranking.kind)
    penalties = [f"{names.get(r.org_id, r.org_name or r.org_id)}({penalty_text(r.penalty) or '按考核办法处罚'})"
                 for r in sorted(ranking.rows, key=lambda r: r.rank) if r.org_id in ranking.penalized]
    out = [f"根据生态环境保护督察整改考核办法,现将{domain.month_zh(ranking.period)}各{kind_zh}整改工作考核排名"
           f"情况通报如下。",
           f"一、排名靠后单位。{named(ranking.bottom_named)}考核排名靠后,予以通报。",
           f"二、经济处罚。{'、'.join(penalties) if penalties else '本期无经济处罚单位'}。",
           f"三、逾期未完成整改任务。截至通报日,逾期未完成整改任务共 {len(overdue)} 项,清单附后。"]
    number = "四"
    if reinspected is not None:
        out.append(f"四、抽查复核。{reinspected}复核情况见附表3。")
        number = "五"
    out.append(number + "、" + appeals_paragraph(appeals or [], ranking.published_at).removeprefix("四、"))
    if ranking.supersedes:
        out.append(f"本通报更正并取代此前发布的排名 {ranking.supersedes}。")
    out.append("请各责任单位对照排名和逾期清单,认真查找问题,压实整改责任,确保按期完成整改任务。")
    return out


def document_tables(ranking_rows: list[list[Any]], overdue_rows: list[list[Any]],
                    reinspection: list[list[Any]] | None = None,
                    appeal_table: list[list[str]] | None = None) -> list[DocTable]:
    """The ranking (without the org codes), the overdue list, the re-inspection results (抽查复核), the appeals."""
    checked = [[doc_cell(v) for v in r] for r in (reinspection or [])]
    ranking = [[doc_cell(v) for i, v in enumerate(r) if i != 2] for r in ranking_rows]
    overdue = [[doc_cell(v) for i, v in enumerate(r) if i in (0, 1, 2, 5, 6, 7)] for r in overdue_rows]
    appeals = appeal_table or [APPEAL_HEADERS]
    return [DocTable(heading="附表1 考核排名", headers=ranking[0], rows=ranking[1:], left=[1]),
            DocTable(heading="附表2 逾期未完成整改任务清单", headers=overdue[0], rows=overdue[1:],
                     empty="截至通报日无逾期未完成整改任务。", left=[1, 2]),
            DocTable(heading="附表3 抽查复核情况", headers=checked[0] if len(checked) > 1 else [], rows=checked[1:],
                     empty="本期暂无抽查复核结果。", left=[1]),
            DocTable(heading="附表4 考核排名申诉复核情况", headers=appeals[0], rows=appeals[1:],
                     empty="自上期通报以来无考核排名申诉。", left=[0, 2, 6])]


async def leader_recipients(session: AsyncSession, d: Directory) -> list[Recipient]:
    """Every leader: the address book's and those the ledger names."""
    leaders = (await session.execute(
        select(col(IssueView.leader)).where(col(IssueView.leader).is_not(None)).distinct())).scalars().all()
    return await d.all_leaders([t for t in leaders if t is not None])


async def publish_bulletin(uow: UnitOfWork, ranking: RankingPublished) -> Bulletin | None:
    """Build the bulletin of a ranking once, and tell every org and leader (a redelivery adds nothing)."""
    session = uow.session
    if await session.get(Bulletin, ranking.ranking_id) is not None:
        return None
    if ranking.on_appeal is not None:
        return await publish_correction(uow, ranking, ranking.on_appeal)
    now = uow.clock.now()
    names = await org_names(session)
    overdue = await overdue_issues(session, now=ranking.published_at)
    kind_zh = domain.KIND_ZH.get(ranking.kind, ranking.kind)
    title = f"{domain.month_zh(ranking.period)}生态环境保护督察整改{kind_zh}考核月通报"
    def named(ids: list[str]) -> str:
        return "、".join(names.get(o, o) for o in ids) or "无"
    summary = [f"通报单位(排名靠后):{named(ranking.bottom_named)}。",
               f"经济处罚单位:{named(ranking.penalized)}。",
               f"截至通报日逾期未完成整改任务 {len(overdue)} 项。"]
    reinspection = await reinspection_rows(session, period=ranking.period, names=names)
    if (checked := reinspection_summary(reinspection)) is not None:
        summary.append(checked)
    if ranking.supersedes:
        summary.append(f"本通报更正并取代此前发布的排名 {ranking.supersedes}。")
    appeals = await appeals_to_report(session, ranking)
    summary.append(appeals_paragraph(appeals, ranking.published_at).removeprefix("四、"))
    ranking_rows, overdue_rows = tables(ranking, overdue, names, ranking.published_at)
    bulletin = Bulletin(id=ranking.ranking_id, period=ranking.period, kind=ranking.kind, title=title,
                        supersedes=ranking.supersedes, bottom_named=list(ranking.bottom_named),
                        penalized=list(ranking.penalized), overdue_count=len(overdue),
                        html=render_html(title, summary, ranking_rows, overdue_rows, reinspection),
                        xlsx=render_xlsx(title, ranking_rows, overdue_rows, reinspection),
                        published_at=ranking.published_at,
                        created_at=now)
    session.add(bulletin)
    await issue_document(session, owner=bulletin.id, kind="monthly", day=domain.shanghai_day(ranking.published_at),
                         title=title, to=TO_ALL, cc=CC_LEADERS,
                         paragraphs=document_paragraphs(ranking, names, overdue, checked, appeals),
                         tables=document_tables(ranking_rows, overdue_rows, reinspection,
                                                appeal_rows(appeals, names, ranking.published_at)), now=now)
    d = Directory(session)
    org_ids = sorted(set(names) | {r.org_id for r in ranking.rows})
    recipients = await d.orgs(org_ids) + await leader_recipients(session, d)
    body = "".join(summary) + f"通报全文见 /v1/bulletins/{ranking.ranking_id}(HTML、XLSX 可下载)。"
    created = await notify(uow, trigger="digest.monthly", key=f"digest.monthly:{ranking.ranking_id}",
                           subject=ranking.period, title=title, body=body, recipients=recipients)
    digest_id = new_id()
    await session.execute(insert_for(session)(Digest).values(
        id=digest_id, run_key=f"monthly:{ranking.ranking_id}", kind="monthly", period=ranking.period,
        origin="ranking", recipients=len(created), created_at=now).on_conflict_do_nothing())
    await uow.emit(digest_id, DigestPublished(
        digest_id=digest_id, kind="monthly", period=ranking.period, origin="ranking", recipients=len(created),
        bulletin_id=ranking.ranking_id))
    return bulletin



def _score(value: float) -> str:
    return f"{value:g}"


async def publish_correction(uow: UnitOfWork, ranking: RankingPublished, fix: RankingCorrection) -> Bulletin:
    """The correction bulletin (更正通报) of a ranking published on an appeal's decision: what was corrected and why,
    the corrected ranking, which bulletin it corrects; told to every org and leader like the bulletin it corrects."""
    session = uow.session
    now = uow.clock.now()
    names = await org_names(session)
    kind_zh = domain.KIND_ZH.get(ranking.kind, ranking.kind)
    month = domain.month_zh(ranking.period)
    org = names.get(fix.org_id, fix.org_id)
    row = next((r for r in ranking.rows if r.org_id == fix.org_id), None)
    if row is not None and row.org_name:
        org = row.org_name
    title = f"关于更正{month}生态环境保护督察整改{kind_zh}考核排名的通报"
    earlier = await session.get(Bulletin, ranking.supersedes) if ranking.supersedes else None
    earlier_doc = await document_of(session, ranking.supersedes) if ranking.supersedes else None
    corrects = f"{earlier_doc.number}通报" if earlier_doc is not None else f"排名 {ranking.supersedes}"
    changes = "、".join(f"「{domain.COMPONENT_ZH.get(c, c)}」由 {_score(fix.previous.get(c, 0))} 分更正为 "
                       f"{_score(v)} 分" for c, v in fix.corrected.items())
    def named(ids: list[str]) -> str:
        return "、".join(names.get(o, o) for o in ids) or "无"
    moved = []
    if earlier is not None and set(earlier.bottom_named) != set(ranking.bottom_named):
        moved.append(f"通报单位由{named(list(earlier.bottom_named))}调整为{named(ranking.bottom_named)}")
    if earlier is not None and set(earlier.penalized) != set(ranking.penalized):
        moved.append(f"经济处罚单位由{named(list(earlier.penalized))}调整为{named(ranking.penalized)}")
    standing = f",更正后综合得分 {_score(row.score)} 分,排名第 {row.rank} 位" if row is not None else ""
    paragraphs = [
        f"{org}对{corrects}公布的{month}{kind_zh}整改工作考核排名中「{domain.COMPONENT_ZH.get(fix.component, fix.component)}」"
        f"一项提出申诉(申诉编号 {fix.appeal_id})。经复核,{domain.OUTCOME_ZH.get(str(fix.outcome), str(fix.outcome))}。",
        f"一、更正内容。{org}{changes}{standing}。" + ("".join(f"{m}。" for m in moved) if moved else
                                                   "通报单位和经济处罚单位不变。"),
        f"二、复核意见。{fix.reasons}" + ("" if fix.reasons.endswith(("。", "!", "?", ".")) else "。"),
        f"三、更正后的考核排名见附表1,{corrects}中的考核排名同时废止,以本通报为准。",
    ]
    ranking_rows, _ = tables(ranking, [], names, ranking.published_at)
    summary = [paragraphs[0], paragraphs[1].removeprefix("一、")]
    bulletin = Bulletin(id=ranking.ranking_id, period=ranking.period, kind=ranking.kind, title=title,
                        supersedes=ranking.supersedes, bottom_named=list(ranking.bottom_named),
                        penalized=list(ranking.penalized), overdue_count=0,
                        html=render_html(title, summary, ranking_rows, [OVERDUE_HEADERS]),
                        xlsx=render_xlsx(title, ranking_rows, [OVERDUE_HEADERS]), published_at=ranking.published_at,
                        created_at=now, appeal_id=fix.appeal_id)
    session.add(bulletin)
    table = [[doc_cell(v) for i, v in enumerate(r) if i != 2] for r in ranking_rows]
    await issue_document(session, owner=bulletin.id, kind="correction",
                         day=domain.shanghai_day(ranking.published_at), title=title, to=TO_ALL, cc=CC_LEADERS,
                         paragraphs=paragraphs,
                         tables=[DocTable(heading="附表1 更正后的考核排名", headers=table[0], rows=table[1:], left=[1])],
                         now=now)
    d = Directory(session)
    org_ids = sorted(set(names) | {r.org_id for r in ranking.rows})
    recipients = await d.orgs(org_ids) + await leader_recipients(session, d)
    body = "".join(summary) + f"通报全文见 /v1/bulletins/{ranking.ranking_id}。"
    created = await notify(uow, trigger="digest.correction", key=f"digest.correction:{ranking.ranking_id}",
                           subject=ranking.period, title=title, body=body, recipients=recipients)
    digest_id = new_id()
    await session.execute(insert_for(session)(Digest).values(
        id=digest_id, run_key=f"correction:{ranking.ranking_id}", kind="correction", period=ranking.period,
        origin="appeal", recipients=len(created), created_at=now).on_conflict_do_nothing())
    await uow.emit(digest_id, DigestPublished(
        digest_id=digest_id, kind="correction", period=ranking.period, origin="appeal", recipients=len(created),
        bulletin_id=ranking.ranking_id))
    return bulletin
