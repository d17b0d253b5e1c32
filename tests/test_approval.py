"""Four eyes (issue 13): one region client approves a period's draft, another issues it,
and only the draft approved. Through HTTP on both databases, with approval on, as it is by
default (the rest of the suite runs as a one-person installation)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from service.kit.settings import Settings
from service.models import AuditEvent
from tests.support.api import Api, MakeApi
from tests.support.config import settings_for
from tests.support.factories import CPR_A, CPR_B, completed_course, make_course, visit
from tests.test_web import csrf_of, key_of, visible_text

MARCH = "/api/v1/settlements/2024-03"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return settings_for(database_url, tmp_path, require_approval=True)


@dataclass
class Finance:
    gentofte: Api
    checker: Api
    issuer: Api
    hospital: Api
    waiting_course: str
    """Started in March with no visit yet: not billed until its first dose."""

    async def late_visit(self) -> None:
        """A late visit arrives: the waiting course's first dose, in March."""
        r = await self.gentofte.post(
            f"/api/v1/courses/{self.waiting_course}/visits",
            json=visit("2024-03-28T09:00:00+01:00"),
        )
        assert r.status_code == 201, r.text


@pytest.fixture
async def finance(api: MakeApi) -> Finance:
    """Gentofte with a completed March course and a waiting one; two region clients."""
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    await completed_course(hospital, gentofte, "2024-03-01", "2024-03-20", "antibiotics", CPR_A)
    waiting = await make_course(hospital, gentofte, start_date="2024-03-28", patient_cpr=CPR_B)
    return Finance(gentofte, await api("region"), await api("region"), hospital, waiting["id"])


def code_of(r: httpx.Response) -> str:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return str(r.json()["code"])


def test_approval_is_on_by_default() -> None:
    assert Settings().require_approval is True


async def test_an_issue_needs_an_approval_by_another_region_client(
    app: FastAPI, finance: Finance
) -> None:
    checker, issuer = finance.checker, finance.issuer
    r = await issuer.post(f"{MARCH}/issue")
    assert r.status_code == 409 and code_of(r) == "approval_required"
    assert (await checker.get(f"{MARCH}/approval")).status_code == 404

    approved = await checker.post(f"{MARCH}/approval")
    assert approved.status_code == 201, approved.text
    body = approved.json()
    assert body["approved_by_client_id"] == str(checker.client_id) and body["approved_by"]
    assert len(body["statements"]) == 29
    again = await checker.post(f"{MARCH}/approval")  # a retry: the same approval
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    summary = (await issuer.get(MARCH)).json()
    assert summary["approval"]["id"] == body["id"] and summary["approval"]["matches_draft"]

    same = await checker.post(f"{MARCH}/issue")
    assert same.status_code == 409 and code_of(same) == "approval_by_same_client"
    assert same.json()["approved_by"] == body["approved_by"]
    issued = await issuer.post(f"{MARCH}/issue")
    assert issued.status_code == 201, issued.text
    assert issued.json()["approval"]["id"] == body["id"]
    late = await checker.post(f"{MARCH}/approval")
    assert late.status_code == 409 and code_of(late) == "period_already_issued"

    async with app.state.sessionmaker() as session:
        rows = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action.in_(["settlement.approve", "settlement.issue"])
                )
            )
        ).all()
    assert [(e.action, e.client_id) for e in rows] == [
        ("settlement.approve", checker.client_id),
        ("settlement.issue", issuer.client_id),
    ]
    assert rows[1].detail["approval"] == body["id"]


async def test_a_draft_changed_since_approval_is_not_issued(
    finance: Finance,
) -> None:
    checker, issuer = finance.checker, finance.issuer
    before = await checker.post(f"{MARCH}/approval")
    assert before.status_code == 201
    await finance.late_visit()
    summary = (await issuer.get(MARCH)).json()
    assert summary["approval"]["matches_draft"] is False

    refused = await issuer.post(f"{MARCH}/issue")
    assert refused.status_code == 409 and code_of(refused) == "draft_changed_since_approval"
    assert refused.json()["municipalities"] == ["157"]

    after = await checker.post(f"{MARCH}/approval")
    assert after.status_code == 201 and after.json()["id"] != before.json()["id"]
    changed = {s["municipality_code"]: s["hash"] for s in after.json()["statements"]}
    was = {s["municipality_code"]: s["hash"] for s in before.json()["statements"]}
    assert [c for c in changed if changed[c] != was[c]] == ["157"]
    issued = await issuer.post(f"{MARCH}/issue")
    assert issued.status_code == 201, issued.text


async def test_what_cannot_be_approved(finance: Finance) -> None:
    gentofte, checker, hospital = finance.gentofte, finance.checker, finance.hospital
    r = await checker.post("/api/v1/settlements/2024-06/approval")
    assert r.status_code == 409 and code_of(r) == "period_not_ended"
    assert (await gentofte.post(f"{MARCH}/approval")).status_code == 403
    assert (await hospital.post(f"{MARCH}/approval")).status_code == 403
    assert (await gentofte.get(f"{MARCH}/approval")).status_code == 403


async def test_an_approval_and_an_issue_at_once_never_issue_a_stale_draft(
    finance: Finance,
) -> None:
    """The draft changes after a first approval; the checker approves again while the
    issuer issues: the issue goes ahead only on the second approval, never on the first."""
    checker, issuer = finance.checker, finance.issuer
    assert (await checker.post(f"{MARCH}/approval")).status_code == 201
    await finance.late_visit()
    approve, issue = await asyncio.gather(
        checker.post(f"{MARCH}/approval"), issuer.post(f"{MARCH}/issue")
    )
    outcome: tuple[Any, Any] = (
        approve.status_code if approve.status_code != 409 else code_of(approve),
        issue.status_code if issue.status_code != 409 else code_of(issue),
    )
    assert outcome in {
        (201, 201),  # approved again first, then issued on it
        (201, "draft_changed_since_approval"),  # the issue read the first approval
        (201, "issue_in_progress"),
        ("issue_in_progress", "draft_changed_since_approval"),
    }, outcome
    if issue.status_code == 201:
        assert issue.json()["approval"]["id"] == approve.json()["id"]


async def test_on_the_web_one_user_approves_and_another_issues(
    app: FastAPI, finance: Finance
) -> None:
    async def signed_in(who: Api) -> httpx.AsyncClient:
        web = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://ivsettle.test",
        )
        r = await web.post("/log-ind", data={"api_key": key_of(who), "naeste": "/"})
        assert r.status_code == 303, r.text
        return web

    checker, issuer = await signed_in(finance.checker), await signed_in(finance.issuer)
    try:
        page = await checker.get("/perioder/2024-03")
        assert "Ikke godkendt endnu" in visible_text(page.text)
        r = await checker.post("/perioder/2024-03/godkend", data={"csrf": "forged"})
        assert r.status_code == 403
        r = await checker.post("/perioder/2024-03/godkend", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 303 and r.headers["location"] == "/perioder/2024-03?godkendt=ny"
        page = await checker.get(r.headers["location"])
        assert "Kladden for marts 2024 er godkendt" in visible_text(page.text)
        assert "Godkendt af" in visible_text(page.text)

        r = await checker.post("/perioder/2024-03/udsted", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 409
        assert "Du godkendte selv kladden" in visible_text(r.text)
        assert "Marts 2024 blev ikke udstedt" in visible_text(r.text)

        confirm = await issuer.get("/perioder/2024-03/udsted")
        assert "Godkendt af" in visible_text(confirm.text)
        r = await issuer.post("/perioder/2024-03/udsted", data={"csrf": csrf_of(confirm.text)})
        assert r.status_code == 303 and r.headers["location"].endswith("udstedt=ny")
        r = await checker.post("/perioder/2024-03/godkend", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 409 and "Marts 2024 blev ikke godkendt" in visible_text(r.text)
    finally:
        await checker.aclose()
        await issuer.aclose()


async def test_a_statement_far_above_its_usual_level_is_a_warning_not_a_hold(
    api: MakeApi,
) -> None:
    """March issued: Gentofte 6,915.00 kr. April's draft: 4,455.00 kr. (day fees), no
    warning; with a second course fee, 11,370.00 kr., more than 50 % above the average of
    the one issued month (10,372.50 kr.): a warning, and every line still billed."""
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    checker, issuer = await api("region"), await api("region")
    await completed_course(hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A)
    assert (await checker.post(f"{MARCH}/approval")).status_code == 201
    assert (await issuer.post(f"{MARCH}/issue")).status_code == 201
    april = await issuer.get("/api/v1/settlements/2024-04")
    assert april.json()["warnings"] == []

    await completed_course(hospital, gentofte, "2024-04-02", "2024-04-03", "antibiotics", CPR_B)
    summary = (await issuer.get("/api/v1/settlements/2024-04")).json()
    (warning,) = summary["warnings"]
    assert warning | {"explanation": ""} == {
        "rule": "statement_rise",
        "municipality_code": "157",
        "explanation": "",
        "total": "11370.00",
        "average": "6915.00",
        "months": 1,
    }
    assert "mere end 50 % over gennemsnittet" in warning["explanation"]
    gentofte_total = next(m for m in summary["municipalities"] if m["municipality_code"] == "157")
    assert gentofte_total["total"] == "11370.00"  # warned, not held
    # Issued, the month has no warnings to show.
    assert (await checker.post("/api/v1/settlements/2024-04/approval")).status_code == 201
    issued = await issuer.post("/api/v1/settlements/2024-04/issue")
    assert issued.status_code == 201 and issued.json()["warnings"] == []
