"""The Hohhot campaign played on a simulated clock, from the feedback (2020-05-17) to 2021-06-30.

Everything goes through the services' REST APIs and their real handlers (see `demo.world`): the inspection office
registers the orgs, the round and the ledger (the 34 tasks of `data/ledger.csv`, and the district shares of the
tasks the plan hands to every district); units start, report progress each Friday, upload evidence and apply for
sign-off; supervisors inspect and accept or reject; the office files closures, publishes each month's ranking
when the month closes and posts the monitoring readings; notify's scheduler issues reminders, the Monday
dispatches and the half-year accounts. A seed decides who is diligent and who is late; the same seed gives the
same log, byte for byte.

Demo data is marked where a person reads it: the round is named 「…(演示数据)」, every issue's description says
it is a demonstration, every note, summary and opinion the demo writes starts with 「(演示)」, and the data folder
holds `DEMO.json`.
"""

from __future__ import annotations

import csv
import heapq
import io
import itertools
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import httpx

from demo import photos
from demo.world import World, world
from runtime.clock import SHANGHAI

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" if (ROOT / "data").is_dir() else Path("/usr/share/closeloop/data")
FEEDBACK = date(2020, 5, 17)
END = date(2021, 6, 30)
MARK = "(演示)"
DEMO_NOTE = ("【演示数据】本条由 closeloop demo 按随机种子模拟生成,用于演示整改闭环的全过程,"
             "不是呼和浩特市整改工作的真实记录。")
ROUND = {"id": "nm-2019-inspection", "name": "自治区第一生态环境保护督察组(演示数据)", "level": "regional",
         "started_on": "2019-11-15", "ended_on": "2019-12-09", "feedback_on": FEEDBACK.isoformat()}
OFFICE = "inspection-office"
IMPORT_COLUMNS = ("code", "round", "category", "title", "region", "responsible_org", "cooperating_orgs",
                  "supervising_org", "leader", "deadline", "target_indicator", "target_op", "target_value",
                  "target_unit", "measures", "description", "latitude", "longitude", "assigned_on")

# Sites of the tasks that have one (approximate, WGS-84): photos taken there carry these in their EXIF.
SITES = {
    "HH-2020-015": (40.8020, 111.8590), "HH-2020-017": (40.2690, 111.1870), "HH-2020-019": (40.8010, 111.6440),
    "HH-2020-020": (40.7790, 111.7210), "HH-2020-021": (40.8630, 111.6010), "HH-2020-022": (40.9020, 111.8480),
    "HH-2020-023": (40.9050, 111.8550), "HH-2020-025": (40.9110, 111.4020), "HH-2020-026": (40.7420, 111.5830),
    "HH-2020-034": (39.9130, 111.6790),
}
SHORT = {"xincheng": "XC", "huimin": "HM", "yuquan": "YQ", "saihan": "SH", "tumed-left": "TZ", "togtoh": "TK",
         "horinger": "HL", "qingshuihe": "QS", "wuchuan": "WC", "etdz": "JK"}
URBAN = ("xincheng", "huimin", "yuquan", "saihan")
COUNTIES = ("tumed-left", "togtoh", "horinger", "qingshuihe", "wuchuan")

# The district shares (分解任务) of tasks the plan gives to every district: (parent, districts, title, supervising,
# deadline, target (indicator, op, value, unit) or None, leader).
SHARES: list[tuple[str, tuple[str, ...], str, str, str, tuple[str, str, str, str] | None, str]] = [
    ("HH-2020-006", URBAN, "{name}禁燃区内村(片区)居民燃煤散烧清洁取暖改造(2020年度任务)", "city-housing",
     "2020-10-15", None, "分管副市长(城建)"),
    ("HH-2020-011", URBAN, "{name}在建工地全部加装视频监控并落实扬尘管控", "city-housing", "2020-09-30",
     ("construction_sites_with_video_ratio", ">=", "100", "%"), "分管副市长(城建)"),
    ("HH-2020-030", URBAN, "{name}推行生活垃圾分类投放、收集、运输、处置", "city-urbanmgmt", "2020-12-31", None,
     "分管副市长(城建)"),
    ("HH-2020-012", ("tumed-left", "togtoh", "horinger"), "{name}秸秆综合利用率超过85%", "city-agri", "2020-11-30",
     ("straw_utilization_ratio", ">=", "85", "%"), "分管副市长(农牧)"),
    ("HH-2020-031", COUNTIES, "{name}农村生活垃圾和生活污水治理", "city-agri", "2020-12-31", None,
     "分管副市长(农牧)"),
    ("HH-2020-033", ("qingshuihe", "wuchuan"), "{name}违规征占用草原专项整治", "city-forestry", "2020-09-30", None,
     "分管副市长(林草)"),
    ("HH-2020-034", ("qingshuihe",), "{name}非法采石、采砂、取土专项整治", "city-landres", "2020-08-31", None,
     "分管副市长(自然资源)"),
    ("HH-2020-015", ("etdz",), "{name}涉物料堆场工业企业全部实现封闭", "city-industry", "2020-08-31",
     ("enclosed_material_yards_ratio", ">=", "100", "%"), "分管副市长(工信)"),
    ("HH-2020-014", ("togtoh",), "{name}工业炉窑整治并淘汰不达标炉窑", "city-industry", "2020-10-31", None,
     "分管副市长(工信)"),
]

# Annual targets are met (or not) only when the year's figures are in: their closures come in January.
ANNUAL = {"HH-2020-004", "HH-2020-005", "HH-2020-008", "HH-2020-009", "HH-2020-016"}
NOTES = {
    "governance": ["召开专题会议研究部署", "印发工作方案并明确责任分工", "开展专项督导检查", "汇总各单位落实情况"],
    "air": ["开展现场排查", "督促企业落实整改措施", "组织专项执法检查", "完成阶段性改造任务"],
    "water": ["完成河道清淤和垃圾清理", "推进截污纳管工程", "开展水质加密监测", "组织沿线排口排查"],
    "soil": ["开展涉重金属企业排查", "推进贮存场所规范化建设", "组织专项检查", "完成阶段性处置任务"],
    "ecology": ["开展实地核查", "推进植被恢复和补植", "组织专项整治行动", "建立长效监管台账"],
}
REJECT_OPINIONS = {
    "insufficient_evidence": "佐证材料不足,缺少整改前后对比照片和验收资料",
    "target_not_met": "现场核查指标未达到整改目标",
    "superficial": "现场核查发现整改流于表面,问题未根本解决",
    "other": "材料与现场情况不一致,请补充说明",
}
Progress = Callable[[str], None]


@dataclass
class Task:
    """One issue of the campaign and what the seed planned for it."""

    code: str
    category: str
    title: str
    responsible: str
    supervising: str
    deadline: date
    target: str | None
    site: tuple[float, float] | None
    issue_id: str = ""
    status: str = "registered"
    percent: int = 0
    closure_id: str | None = None
    weekday: int = 4  # Friday: progress is reported for the week
    started_on: date = FEEDBACK
    apply_on: date | None = None  # the next application planned: progress is reported towards it
    photos: list[bytes] = field(default_factory=list)


@dataclass
class Stats:
    """What the campaign did, for the closing summary and the tests."""

    requests: int = 0
    applications: int = 0
    rejections: int = 0
    acceptances: int = 0
    filings: int = 0
    reopenings: int = 0
    rankings: int = 0
    readings: int = 0
    progress: int = 0
    evidence: int = 0
    ticks: int = 0


class Refused(RuntimeError):
    """A request of the demo was refused: the demo and the services disagree (a bug either side)."""


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A Beijing wall-clock moment as UTC."""
    return datetime.combine(day, clock_time(hour, minute), tzinfo=SHANGHAI).astimezone(UTC)


def reminder_days(deadline: date) -> set[date]:
    """The days notify's reminders of a deadline fall due (near, overdue, escalated)."""
    from services.notify.domain import reminders_for

    return {r.due_at.astimezone(SHANGHAI).date() for r in reminders_for(deadline)}


class Campaign:
    """The agenda of the campaign and the actors that carry it out."""

    def __init__(self, w: World, *, seed: int, until: date, echo: Progress) -> None:
        self.w = w
        self.rng = random.Random(seed)
        self.until = until
        self.echo = echo
        self.stats = Stats()
        self.tasks: dict[str, Task] = {}
        self.agenda: list[tuple[datetime, int, str, Callable[[], Awaitable[None]]]] = []
        self.order = itertools.count()
        self.diligence: dict[str, float] = {}
        self.busy = False

    # ------------------------------------------------------------------ plumbing

    def plan(self, moment: datetime, what: str, action: Callable[[], Awaitable[None]]) -> None:
        """Put an action on the agenda (actions after the last day are left out)."""
        if moment.astimezone(SHANGHAI).date() <= self.until:
            heapq.heappush(self.agenda, (moment, next(self.order), what, action))

    async def call(self, service: str, method: str, path: str, *, auth: dict[str, str], expect: int = 200,
                   **kw: Any) -> Any:
        """One REST request; anything but the expected status stops the demo with the service's answer."""
        client = self.w.services[service].client
        with self.w.acting(service):
            r: httpx.Response = await client.request(method, path, headers=auth, **kw)
        self.stats.requests += 1
        self.busy = True
        if r.status_code != expect:
            raise Refused(f"{method} {service}{path} at {self.w.local():%Y-%m-%d %H:%M}: {r.status_code} {r.text}")
        return r.json()

    def office(self, role: str = "admin") -> dict[str, str]:
        return self.w.auth(role, OFFICE, sub="督察整改办")

    def unit(self, org: str, role: str = "responsible") -> dict[str, str]:
        return self.w.auth(role, org)

    # ------------------------------------------------------------------ day 0: the ledger

    def ledger_rows(self) -> list[dict[str, str]]:
        """The reference ledger with the demo's marks and sites, and the district shares of the city-wide tasks."""
        with (DATA / "ledger.csv").open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
        with (DATA / "orgs.csv").open(encoding="utf-8-sig", newline="") as fh:
            names = {o["id"]: o["name"] for o in csv.DictReader(fh)}
        out = []
        for row in rows:
            site = SITES.get(row["code"])
            out.append({**row, "description": DEMO_NOTE, "latitude": f"{site[0]}" if site else "",
                        "longitude": f"{site[1]}" if site else "",
                        "assigned_on": row.get("assigned_on") or FEEDBACK.isoformat()})
        for parent, districts, title, supervising, deadline, target, leader in SHARES:
            base = next(r for r in rows if r["code"] == parent)
            for org in districts:
                ind, op, value, unit = target or ("", "", "", "")
                out.append({"code": f"{parent}-{SHORT[org]}", "round": ROUND["id"], "category": base["category"],
                            "title": title.format(name=names[org]), "region": org, "responsible_org": org,
                            "cooperating_orgs": "", "supervising_org": supervising, "leader": leader,
                            "deadline": deadline, "target_indicator": ind, "target_op": op, "target_value": value,
                            "target_unit": unit, "measures": f"落实{parent}「{base['title']}」的辖区任务",
                            "description": DEMO_NOTE, "latitude": "", "longitude": "",
                            "assigned_on": FEEDBACK.isoformat()})
        return out

    async def register(self) -> None:
        """The office registers the orgs, the round and the ledger (one import) on the day of the feedback."""
        with (DATA / "orgs.csv").open(encoding="utf-8-sig", newline="") as fh:
            orgs = list(csv.DictReader(fh))
        for org in orgs:
            await self.call("issues", "POST", "/v1/orgs", auth=self.office(), expect=201, json={
                "id": org["id"], "name": org["name"], "kind": org["kind"], "zone_type": org["zone_type"] or None})
            if org["kind"] != "inspection_office":
                self.diligence[org["id"]] = self.rng.uniform(0.55, 0.97)
        await self.call("issues", "POST", "/v1/rounds", auth=self.office(), expect=201, json=ROUND)
        rows = self.ledger_rows()
        buf = io.StringIO(newline="")
        writer = csv.DictWriter(buf, fieldnames=list(IMPORT_COLUMNS), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        await self.call("issues", "POST", "/v1/issues/import", expect=201, content=buf.getvalue().encode("utf-8"),
                        auth={**self.office(), "Content-Type": "text/csv; charset=utf-8"})
        listed = await self.call("issues", "GET", "/v1/issues", auth=self.office(),
                                 params={"round_id": ROUND["id"], "limit": 500})
        ids = {i["code"]: i["id"] for i in listed["items"]}
        for row in rows:
            site = (float(row["latitude"]), float(row["longitude"])) if row["latitude"] else None
            task = Task(code=row["code"], category=row["category"], title=row["title"],
                        responsible=row["responsible_org"], supervising=row["supervising_org"],
                        deadline=date.fromisoformat(row["deadline"]), target=row["target_indicator"] or None,
                        site=site, issue_id=ids[row["code"]], weekday=self.rng.choice((3, 4, 4)))
            self.tasks[task.code] = task

    # ------------------------------------------------------------------ the plan of each task

    def schedule_tasks(self) -> None:
        """Draw each task's course: when it starts, when it applies, whether it is late, rejected, reopened."""
        for code in sorted(self.tasks):
            t = self.tasks[code]
            rng = self.rng
            start = FEEDBACK + timedelta(days=rng.randint(2, 16))
            t.started_on = start
            self.plan(at(start, 9, rng.randint(0, 59)), f"start {code}", self._start(t))
            self.plan_weeks(t, start)
            if code in SPECIAL:
                SPECIAL[code](self, t)
                continue
            if t.deadline > END:
                continue  # a two-year task (2022): still in progress when the demo ends
            diligent = rng.random() < self.diligence[t.responsible]
            if code in ANNUAL:
                apply_on = date(2021, 1, rng.randint(6, 20))
            elif diligent:
                # most finish in the last weeks before the deadline; some long before it
                early = rng.random() < 0.35
                apply_on = t.deadline - timedelta(days=rng.randint(46, 150) if early else rng.randint(8, 45))
            else:
                apply_on = t.deadline + timedelta(days=rng.randint(3, 55))
            apply_on = max(apply_on, start + timedelta(days=21))
            reject = rng.random() < (0.12 if diligent else 0.35)
            self.plan_closure(t, apply_on, reject=reject, file=rng.random() < 0.8)

    def plan_weeks(self, t: Task, start: date) -> None:
        """A progress report every week on the task's day while it is in progress."""
        day = start + timedelta(days=(t.weekday - start.weekday()) % 7 or 7)
        while day <= self.until:
            self.plan(at(day, 16, self.rng.randint(0, 50)), f"progress {t.code}", self._progress(t))
            day += timedelta(days=7)

    def plan_closure(self, t: Task, apply_on: date, *, reject: bool, file: bool, reason: str | None = None,
                     reused_from: str | None = None, far: bool = False) -> None:
        """Apply on `apply_on`; the supervisor decides some days later (rejecting first when told to)."""
        rng = self.rng
        decide_on = apply_on + timedelta(days=rng.randint(3, 9))
        if t.apply_on is None:
            t.apply_on = apply_on
        self.plan(at(apply_on, 10, rng.randint(0, 59)), f"apply {t.code}",
                  self._apply(t, reused_from=reused_from, far=far))
        if reject:
            code = reason or rng.choice(["insufficient_evidence", "superficial", "other"] +
                                        (["target_not_met"] if t.target else []))
            self.plan(at(decide_on, 15, rng.randint(0, 59)), f"reject {t.code}", self._decide(t, reject=code))
            again = decide_on + timedelta(days=rng.randint(8, 20))
            self.plan_closure(t, again, reject=False, file=file)
            return
        self.plan(at(decide_on, 15, rng.randint(0, 59)), f"accept {t.code}", self._decide(t, reject=None))
        if file:
            self.plan(at(decide_on + timedelta(days=rng.randint(7, 30)), 11, rng.randint(0, 59)), f"file {t.code}",
                      self._file(t))

    def schedule_calendar(self) -> None:
        """Daily scheduler ticks, the monthly readings and rankings."""
        tick_days = {FEEDBACK} | {d for t in self.tasks.values() for d in reminder_days(t.deadline)}
        day = FEEDBACK
        while day <= self.until:
            # notify's scheduler has something to do on Mondays (周调度), on 1 Jan and 1 Jul (半年交账) and on the
            # days reminders fall due; on other days a tick finds nothing, so it is not played
            if day.weekday() == 0 or (day.month, day.day) in ((1, 1), (7, 1)) or day in tick_days:
                self.plan(at(day, 9, 5), "tick", self._tick())
            if day.day == 1:
                self.plan(at(day, 9, 30), "readings", self._readings(day - timedelta(days=1)))
                self.plan(at(day, 10, 0), "ranking", self._rankings(day - timedelta(days=1)))
            day += timedelta(days=1)
        if self.until == END:
            # June's ranking when the month closes, the demo's last step
            self.plan(at(END, 23, 0), "readings", self._readings(END))

    # ------------------------------------------------------------------ actions

    def _start(self, t: Task) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await self.call("issues", "POST", f"/v1/issues/{t.issue_id}/start", auth=self.unit(t.responsible),
                            json={"note": f"{MARK}已制定整改方案,启动整改"})
            t.status = "in_progress"
        return run

    def _progress(self, t: Task) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            if t.status != "in_progress":
                return
            today = self.w.local().date()
            goal = t.apply_on or t.deadline
            span = max(7, (goal - t.started_on).days)
            due = round(95 * (today - t.started_on).days / span) + self.rng.randint(-3, 3)
            t.percent = max(t.percent, min(95, due))
            note = self.rng.choice(NOTES.get(t.category, NOTES["governance"]))
            await self.call("issues", "POST", f"/v1/issues/{t.issue_id}/progress", auth=self.unit(t.responsible),
                            expect=201, json={"note": f"{MARK}本周{note},累计完成{t.percent}%", "percent": t.percent})
            self.stats.progress += 1
        return run

    async def _evidence(self, t: Task, content: bytes, *, kind: str, note: str) -> str:
        out = await self.call("verification", "POST", "/v1/evidence", auth=self.unit(t.responsible), expect=201,
                              data={"issue_id": t.issue_id, "kind": kind, "note": f"{MARK}{note}"},
                              files={"file": ("evidence.pdf" if kind == "document" else "site.jpg", content,
                                              "application/pdf" if kind == "document" else "image/jpeg")})
        self.stats.evidence += 1
        evidence_id: str = out["id"]
        return evidence_id

    def _apply(self, t: Task, *, reused_from: str | None = None, far: bool = False) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            if t.status not in ("in_progress", "registered"):
                return
            now = self.w.clock.now()
            ids: list[str] = []
            if reused_from is not None and self.tasks[reused_from].photos:
                ids.append(await self._evidence(t, self.tasks[reused_from].photos[0], kind="photo",
                                                note="整改后现场照片"))
            elif t.category == "governance":
                ids.append(await self._evidence(t, photos.document(self.rng.getrandbits(32)), kind="document",
                                                note="会议纪要和工作方案"))
            else:
                for _ in range(self.rng.randint(1, 2)):
                    gps = None
                    if t.site is not None and self.rng.random() < 0.85:
                        off = 0.05 if far else 0.0015
                        gps = (t.site[0] + self.rng.uniform(-off, off) + (0.04 if far else 0.0),
                               t.site[1] + self.rng.uniform(-off, off))
                    taken = now - timedelta(hours=self.rng.randint(2, 70))
                    content = photos.photo(self.rng.getrandbits(32), taken=taken, gps=gps)
                    t.photos.append(content)
                    ids.append(await self._evidence(t, content, kind="photo", note="整改后现场照片"))
            out = await self.call("verification", "POST", "/v1/closures", auth=self.unit(t.responsible), expect=201,
                                  json={"issue_id": t.issue_id, "evidence_ids": ids,
                                        "summary": f"{MARK}{t.title}已按整改方案完成,申请销号"})
            t.closure_id, t.status, t.apply_on = out["id"], "closure_requested", None
            self.stats.applications += 1
            await self.w.drain()
        return run

    def _decide(self, t: Task, *, reject: str | None) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            if t.status != "closure_requested" or t.closure_id is None:
                return
            inspected = self.w.local().date() - timedelta(days=1)
            body: dict[str, Any] = {"decision": "reject" if reject else "accept", "inspected_on": inspected.isoformat()}
            if reject:
                body.update(reason_code=reject, opinion=f"{MARK}{REJECT_OPINIONS[reject]}")
            else:
                body["opinion"] = f"{MARK}经现场核查,整改到位,同意销号"
            await self.call("verification", "POST", f"/v1/closures/{t.closure_id}/decision",
                            auth=self.unit(t.supervising, "supervisor"), json=body)
            t.status = "in_progress" if reject else "signed_off"
            if reject:
                self.stats.rejections += 1
            else:
                self.stats.acceptances += 1
            await self.w.drain()
        return run

    def _file(self, t: Task) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            if t.status != "signed_off" or t.closure_id is None:
                return
            await self.call("verification", "POST", f"/v1/closures/{t.closure_id}/file", auth=self.office())
            t.status = "filed"
            self.stats.filings += 1
            await self.w.drain()
        return run

    def _reopen(self, t: Task, reason: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            if t.status not in ("signed_off", "filed"):
                return
            await self.call("verification", "POST", "/v1/reopenings", auth=self.unit(t.supervising, "supervisor"),
                            expect=201, json={"issue_id": t.issue_id, "reason": f"{MARK}{reason}"})
            t.status, t.percent = "in_progress", 60
            self.stats.reopenings += 1
            await self.w.drain()
        return run

    def _extension(self, t: Task, to: date, reason: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            out = await self.call("issues", "POST", f"/v1/issues/{t.issue_id}/extensions",
                                  auth=self.unit(t.responsible), expect=201,
                                  json={"requested_deadline": to.isoformat(), "reason": f"{MARK}{reason}"})
            self.plan(self.w.clock.now() + timedelta(days=5), f"extension decision {t.code}",
                      self._extension_decision(t, out["id"], to))
        return run

    def _extension_decision(self, t: Task, extension_id: str, to: date) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await self.call("issues", "POST", f"/v1/issues/{t.issue_id}/extensions/{extension_id}/decision",
                            auth=self.office(), json={"approved": True, "opinion": f"{MARK}同意延期,按新时限完成"})
            t.deadline = to
            for day in sorted(reminder_days(to)):
                self.plan(at(day, 9, 5), "tick", self._tick())
        return run

    def _tick(self) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            done = await self.w.tick()
            self.stats.ticks += 1
            if done["reminders"] or done["weekly"] or done["half_year"]:
                self.busy = True
        return run

    def _readings(self, last_day: date) -> Callable[[], Awaitable[None]]:
        """The month's monitoring figures, observed on its last day, as the monitoring systems push them."""
        async def run() -> None:
            observed = at(last_day, 20).isoformat()
            months = (last_day.year - 2020) * 12 + last_day.month - 5  # 0 in May 2020
            rng = self.rng
            items = [
                {"org_id": "city-eeb", "indicator": "pm25_annual_mean",
                 "value": round(max(30.0, 38.5 - 0.55 * months + rng.uniform(-0.6, 0.6)), 1)},
                {"org_id": "city-eeb", "indicator": "good_air_days_ratio",
                 "value": round(min(92.0, 79.5 + 0.6 * months + rng.uniform(-0.8, 0.8)), 1)},
                {"org_id": "city-eeb", "indicator": "yellow_river_good_water_ratio",
                 "value": round(100 * min(12, 8 + months // 3 + rng.choice((0, 0, 1))) / 12, 1)},
            ]
            for org in URBAN:
                lag = 1 - self.diligence[org]
                items.append({"org_id": org, "indicator": "construction_sites_with_video_ratio",
                              "value": round(min(100.0, 62 + months * (12 - 10 * lag) + rng.uniform(-2, 2)), 1)})
            for org in ("tumed-left", "togtoh", "horinger"):
                lag = 1 - self.diligence[org]
                items.append({"org_id": org, "indicator": "straw_utilization_ratio",
                              "value": round(min(93.0, 71 + months * (3.2 - 2 * lag) + rng.uniform(-1, 1)), 1)})
            items.append({"org_id": "etdz", "indicator": "enclosed_material_yards_ratio",
                          "value": round(min(100.0, 76 + months * 6 + rng.uniform(-1, 1)), 1)})
            body = [{**i, "observed_at": observed} for i in items]
            await self.call("scoring", "POST", "/v1/readings", auth=self.office(), expect=201, json=body)
            self.stats.readings += len(body)
            if last_day == END:
                await self._publish(END)
        return run

    def _rankings(self, last_day: date) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await self._publish(last_day)
        return run

    async def _publish(self, last_day: date) -> None:
        period = f"{last_day.year}-{last_day.month:02d}"
        for kind in ("region", "department"):
            await self.call("scoring", "POST", "/v1/rankings", auth=self.office(), expect=201,
                            json={"period": period, "kind": kind})
            self.stats.rankings += 1

    # ------------------------------------------------------------------ the run

    async def run(self) -> None:
        """Play the agenda day by day; every consumer drains at the end of each day something happened."""
        self.w.at(at(FEEDBACK, 9, 0))
        await self.register()
        await self.w.drain()
        self.schedule_tasks()
        self.schedule_calendar()
        month = None
        started = time.monotonic()
        while self.agenda:
            moment, _, _, action = heapq.heappop(self.agenda)
            day = moment.astimezone(SHANGHAI).date()
            if self.busy and day > self.w.local().date():
                await self.w.drain()
                self.busy = False
            if (day.year, day.month) != month:
                month = (day.year, day.month)
                self.echo(f"demo: {day:%Y-%m}  ({self.stats.requests} requests, "
                          f"{self.stats.acceptances} signed off, {time.monotonic() - started:.0f} s)")
            self.w.at(moment)
            await action()
        await self.w.settle()
        self.w.at(self.w.clock.now() + timedelta(minutes=1))
        await self.w.sign_tails()
        await self.w.rendered()


# The tasks with a story of their own (their codes are the plan's).
def _blackwater(c: Campaign, t: Task) -> None:
    """扎达盖河: signed off in July, the rainy season brings the black water back, rectified again by October."""
    c.plan_closure(t, date(2020, 7, 6), reject=False, file=True)
    c.plan(at(date(2020, 8, 18), 10, 20), "reopen HH-2020-019",
           c._reopen(t, "汛期强降雨后扎达盖河玉泉区段局部返黑返臭,黑臭水体反弹"))
    c.plan_closure(t, date(2020, 10, 12), reject=False, file=True)


def _reused_photo(c: Campaign, t: Task) -> None:
    """小黑河: the first application reuses 扎达盖河's photo; the integrity check flags it and it is rejected."""
    c.plan_closure(t, date(2020, 9, 10), reject=True, file=True, reason="superficial", reused_from="HH-2020-019")


def _straw_burning(c: Campaign, t: Task) -> None:
    """秸秆禁烧: signed off in September, fire points found in the autumn: reopened, closed again in November."""
    c.plan_closure(t, date(2020, 9, 7), reject=False, file=False)
    c.plan(at(date(2020, 10, 26), 9, 40), "reopen HH-2020-013",
           c._reopen(t, "卫星遥感监测发现秋收后多处秸秆焚烧火点,禁烧巡查问题反弹"))
    c.plan_closure(t, date(2020, 11, 23), reject=False, file=True)


def _yards(c: Campaign, t: Task) -> None:
    """经开区堆场: the first photos were taken far from the yards; rejected, then done properly, a little late."""
    c.plan_closure(t, date(2020, 8, 20), reject=True, file=True, reason="insufficient_evidence", far=True)


def _sewage_plant(c: Campaign, t: Task) -> None:
    """班定营污水处理厂三期: the winter stops construction; the deadline is extended to 2021-06-30 and met."""
    c.plan(at(date(2020, 11, 20), 10, 0), "extension HH-2020-026",
           c._extension(t, date(2021, 6, 30), "冬季施工期受限,三期扩建工程主体设备安装顺延"))
    c.plan_closure(t, date(2021, 6, 7), reject=False, file=False)


SPECIAL: dict[str, Callable[[Campaign, Task], None]] = {
    "HH-2020-019": _blackwater, "HH-2020-020": _reused_photo, "HH-2020-013": _straw_burning,
    "HH-2020-015-JK": _yards, "HH-2020-026": _sewage_plant,
}


async def play(data_dir: Path, *, seed: int = 2020, until: date = END,
               echo: Progress = print) -> dict[str, Any]:
    """Play the campaign into `data_dir` (which must be empty); returns a summary, also written to DEMO.json."""
    if until < FEEDBACK or until > END:
        raise ValueError(f"until must lie between {FEEDBACK} and {END}")
    if data_dir.exists() and any(data_dir.iterdir()):
        raise FileExistsError(f"{data_dir} is not empty; the demo writes only into an empty folder")
    started = time.monotonic()
    async with world(data_dir, start=at(FEEDBACK, 9, 0), seed=seed) as w:
        campaign = Campaign(w, seed=seed, until=until, echo=echo)
        await campaign.run()
        events = {name: await _log_size(service.rt) for name, service in w.services.items()}
    summary = {"demo": True, "seed": seed, "from": FEEDBACK.isoformat(), "until": until.isoformat(),
               "events": events, "events_total": sum(events.values()),
               "stats": campaign.stats.__dict__, "seconds": round(time.monotonic() - started, 1),
               "note": "演示数据:closeloop demo 按随机种子模拟生成的整改过程,不是真实记录。"}
    (data_dir / "DEMO.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return summary


async def _log_size(rt: Any) -> int:
    from sqlalchemy import func, select
    from sqlmodel import col

    from runtime.models import OutboxRow

    async with rt.read() as session:
        n = (await session.execute(select(func.count(col(OutboxRow.id))))).scalar_one()
    return int(n)
