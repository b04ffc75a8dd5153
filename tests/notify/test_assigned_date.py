"""The half-year account counts an issue from its assigned date (交办日期) when the ledger was moved in later."""

from __future__ import annotations

from pathlib import Path

from services.notify.digests import half_year_table
from services.notify.store import IssueView
from tests.notify.helpers import ISSUES, org, registered, sh
from tests.support import fixed_clock, running


async def test_an_issue_moved_in_after_the_half_is_counted_from_its_assigned_date(tmp_path: Path) -> None:
    async with running("notify", tmp_path, clock=fixed_clock("2021-03-01T02:00:00+00:00")) as s:
        assert await s.deliver(org("city-eeb", "呼和浩特市生态环境局")) == "handled"
        template = registered("template", deadline="2020-12-31").data  # the payload's fields, not delivered
        data = {**template, "assigned_on": "2020-05-17"}
        assert await s.deliver(ISSUES.make("issue.registered", "m2", {**data, "issue_id": "m2"},
                                           time=sh("2021-03-01 10:00"))) == "handled"
        assert await s.deliver(registered("m3", deadline="2020-12-31", at=sh("2021-03-01 10:00"))) == "handled"
        async with s.rt.read() as session:
            assert (await session.get(IssueView, "m2")).registered_at == sh("2020-05-17 00:00")  # type: ignore[union-attr]
            table = await half_year_table(session, period="2020-H2", now=sh("2021-03-01 12:00"))
        # m2 was assigned in 2020 (an overdue task of the half); m3 has no assigned date: recorded in 2021, not counted
        assert [(r["org_id"], r["assigned"], r["overdue"]) for r in table] == [("city-eeb", 1, 1)]


async def test_a_moved_in_task_gets_no_reminder_until_its_status_moves_have_arrived(tmp_path: Path) -> None:
    """A row moved in as filed: its registration says two moves follow; a tick between them sends nothing."""
    from services.notify.digests import tick
    from tests.notify.helpers import inbox

    async with running("notify", tmp_path, clock=fixed_clock("2021-03-01T02:00:00+00:00")) as s:
        assert await s.deliver(org("city-eeb", "呼和浩特市生态环境局")) == "handled"
        template = registered("template", deadline="2020-12-31").data
        for issue_id, moves in (("filed", ["in_progress", "closure_requested", "signed_off", "filed"]),
                                ("started", ["in_progress"])):
            data = {**template, "issue_id": issue_id, "code": f"HH-{issue_id}", "assigned_on": "2020-05-17",
                    "moves_following": len(moves)}
            assert await s.deliver(ISSUES.make("issue.registered", issue_id, data)) == "handled"
        # the scheduler runs before the moves are handled: the status notify holds is not yet the issue's
        await tick(s.rt)
        assert await inbox(s, "city-eeb", type="issue.overdue") == []
        async with s.rt.read() as session:
            assert (await session.get(IssueView, "filed")).moves_pending == 4  # type: ignore[union-attr]
        for issue_id, moves in (("filed", ["in_progress", "closure_requested", "signed_off", "filed"]),
                                ("started", ["in_progress"])):
            source = "registered"
            for target in moves:
                assert await s.deliver(ISSUES.make("issue.status_changed", issue_id, {
                    "issue_id": issue_id, "from_status": source, "to_status": target,
                    "happened_on": "2020-12-20" if target in ("signed_off", "filed") else None})) == "handled"
                source = target
        await tick(s.rt)
        # the filed task is closed: nothing; the one moved in as started is overdue and now told so
        assert [i["subject"] for i in await inbox(s, "city-eeb", type="issue.overdue")] == ["started"]
