"""Model-based test of the monthly settlement (issue 5, "Prove it holds"), review holds and
their release included (issue 13).

Hypothesis drives random histories through the HTTP API - registrations (referral and
acceptance), visits (often late, for months already issued), completions, corrections of
start and end dates, cancellations, the region releasing held courses, the clock moving on
and month after month issued - and after every step compares what the service says with
`tests.support.settlement_model`, a plain model written from DESIGN.md alone:

- the draft of the open period (every line of the two municipalities in play, the other
  27 empty, totals, staircase count, courses not yet settled) is what the model predicts;
- each issued statement is exactly the model's statement at the moment of issue, and
  re-reading it later gives the same content and hash (issued statements never change);
- over all issued statements, each billed item (course, kind, month) nets to what the
  model says the course owed when an issue last read it, and no regular line is issued
  twice;
- each course shows the staircase place and billed total the model expects.

Review holds are on. The service's list of held courses is the one thing the model is
told (the rules are tested at their thresholds in tests/test_holds.py; here courses
completed without a dose, ending days after the last dose, moved far from the expected
start or back-dated by corrections are held often); everything else it predicts: a held
course has no line, regular or adjustment, and no staircase place in drafts and issues,
and keeps what it was billed before; a released one is owed afterwards like late data
(regular lines for the open month, adjustments for earlier ones) and is placed, in the
model's order, when first billed. The region releases some or all of the held courses at
random, as a step or while time passes, and every course still held before the last issue
(a release covers the rules holding the course now; releasing it again is refused). Once
nothing was held at an issue after releases, every billed item nets to what every course
owed at that issue: issued equals owed, nothing twice. A history that random ones reach
only now and then - courses held over an issue, billed in a later one once released, one
of them for a correction made while it was held - also runs step by step through the same
machine and invariants.

Scenarios are restricted so the model stays small: two municipalities, two hospitals,
antibiotics and fluids (6 and 3 included days), start dates from September 2024 on (one
tariff version, posted by the test, prices them all), no price index, no corrections of
type or municipality (so a billed item is always one line at one price), at most four
issues (October 2024 to January 2025). The version's tier thresholds are [1, 3], so
histories climb the staircase: positions, tiers and a new year's count are tested.

Each example gets a fresh database (a copy of the migrated SQLite template, or PostgreSQL
emptied and reloaded) and runs the app on its own event loop, as Hypothesis's rules are
synchronous. Derandomized, so CI runs the same histories every time.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import shutil
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from service.main import create_app
from service.settlement.verify import IssueCheck, verify
from tests.support.api import new_api
from tests.support.config import settings_for
from tests.support.databases import reset_postgres
from tests.support.factories import referral_payload
from tests.support.settlement_model import (
    RATES,
    Course,
    Item,
    Line,
    Model,
    Month,
    last_day,
    month_of,
    month_text,
)
from tests.support.tariffs import tariff_2021

LOCAL = ZoneInfo("Europe/Copenhagen")
FIRST_DAY = date(2024, 11, 1)
"""The clock's first day; the first issue is the month before."""
FIRST_PERIOD: Month = (2024, 10)
EARLIEST_START = date(2024, 9, 1)
MUNICIPALITIES = ("101", "157")
HOSPITALS = ("HGH", "RH")
TREATMENTS = ("antibiotics", "fluids")
THRESHOLDS = (1, 3)
MAX_ISSUES = 4
"""October 2024 to January 2025: enough to cross into a new staircase year."""
PICK = st.integers(0, 10**6)
"""Chooses among what exists when the rule runs (a course, a day), modulo its count."""

SETTINGS = settings(
    max_examples=15,
    stateful_step_count=20,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
)
EXAMPLES = {"sqlite": 15, "postgresql": 12}
"""About a minute each on an idle machine; PostgreSQL requests cost more."""


def ore(kr: str) -> int:
    return int(Decimal(kr) * 100)


def model_tariff_document() -> dict[str, Any]:
    """The shipped agreement file with small tier thresholds, valid for every start."""
    doc = copy.deepcopy(tariff_2021())
    doc.pop("sources", None)
    doc.update(
        name="model test: tiers after 1 and 3 courses",
        valid_from="2024-01-01",
        tier_thresholds=list(THRESHOLDS),
    )
    return doc


def service_lines(statement: dict[str, Any]) -> Counter[Line]:
    return Counter(
        Line(
            course_id=line["course_id"],
            kind=line["kind"],
            period=line["period"],
            quantity=line["quantity"],
            unit_price=ore(line["unit_price"]),
            amount=ore(line["amount"]),
            tier=line["tier"],
            position=line["position"],
            treatment_type=line["treatment_type"],
            hospital_code=line["hospital_code"],
            municipality_code=statement["municipality_code"],
            adjustment=line["adjustment"],
            reason=line["reason"],
        )
        for line in statement["lines"]
    )


def assert_same_lines(actual: Counter[Line], expected: Counter[Line], where: str) -> None:
    """Line by line, saying which lines the service lacks and which it adds."""
    missing, extra = expected - actual, actual - expected
    assert not missing and not extra, (
        f"{where}: the service differs from the model\n"
        f"  expected, not found: {sorted(map(repr, missing.elements()))}\n"
        f"  found, not expected: {sorted(map(repr, extra.elements()))}"
    )


def assert_same_items(actual: Counter[Item], expected: Counter[Item]) -> None:
    """Net quantities per billed item (an item missing is zero); the differences."""
    differ = {
        k: (actual[k], expected[k])
        for k in actual.keys() | expected.keys()
        if actual[k] != expected[k]
    }
    assert not differ, f"(item: (issued, owed)) {sorted(differ.items())}"


def content_hash(statement: dict[str, Any]) -> str:
    content = {k: v for k, v in statement.items() if k not in ("hash", "chain")}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


LIVE_SUMMARY_FIELDS = ("staircase", "registered_not_settled")
"""Parts of an issued period's summary that report the present, not the issue."""


class SettlementMachine(RuleBasedStateMachine):
    """One example: a fresh database, an app with a pinned clock, and the model."""

    url: ClassVar[str]
    template: ClassVar[Path | None]
    workdir: ClassVar[Path]
    examples: ClassVar[int] = 0

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clients: dict[str, httpx.AsyncClient] = {}
        self.today = FIRST_DAY
        self.tick = 0
        self.cprs = 0
        self.model = Model(thresholds=THRESHOLDS, first_period=FIRST_PERIOD)
        self.issued: dict[str, dict[str, Any]] = {}
        """period → {"summary": ..., municipality code: statement}, as first read."""
        self.released: set[str] = set()
        """Courses the region has released from a hold."""
        self.released_by_last_issue = False
        self.db_file: Path | None = None
        self._app: FastAPI | None = None
        try:
            self._app = create_app(
                settings_for(self._fresh_database(), self.workdir, review_holds=True)
            )
            self.app.state.clock.pinned = self.now()
            self.run(self._set_up())
        except BaseException:
            self.teardown()
            raise

    @property
    def app(self) -> FastAPI:
        assert self._app is not None
        return self._app

    def _fresh_database(self) -> str:
        """SQLite: a copy of the migrated template; PostgreSQL: emptied and reloaded."""
        type(self).examples += 1
        if self.template is None:
            self.run(reset_postgres(self.url, self.workdir))
            return self.url
        self.db_file = self.workdir / f"model-{self.examples}.db"
        shutil.copy(self.template, self.db_file)
        return f"sqlite+aiosqlite:///{self.db_file}"

    # --- plumbing ------------------------------------------------------------------------

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def now(self) -> datetime:
        """Local 10:00 on `today`, plus a minute per step: time never stands still, and a
        visit at 09:00 today is never in the future."""
        return datetime.combine(self.today, time(10, 0), LOCAL) + timedelta(minutes=self.tick)

    def step(self, days: int = 0) -> None:
        self.today += timedelta(days=days)
        self.tick += 1
        self.app.state.clock.pinned = self.now()

    async def _set_up(self) -> None:
        for name, role, org in [
            ("region", "region", None),
            ("admin", "admin", None),
            *((code, "municipality", code) for code in MUNICIPALITIES),
            *((code, "hospital", code) for code in HOSPITALS),
        ]:
            party = await new_api(self.app, f"model {name}", role, org, self.now())
            self.clients[name] = party.client
        r = await self.clients["admin"].post("/api/v1/tariffs", json=model_tariff_document())
        assert r.status_code == 201, r.text

    def call(
        self, client: str, method: str, url: str, expected: int, body: Any = None
    ) -> dict[str, Any]:
        response = self.run(self.clients[client].request(method, url, json=body))
        assert response.status_code == expected, (method, url, body, response.text)
        return dict(response.json())

    def holds(self, period: Month) -> dict[str, list[str]]:
        """The courses held out of a period's draft now, with their rules, as the region's
        list (`/holds`) has them."""
        response = self.run(
            self.clients["region"].get(f"/api/v1/settlements/{month_text(period)}/holds")
        )
        assert response.status_code == 200, response.text
        return self.check_holds(response.json())

    def check_holds(self, holds: list[dict[str, Any]]) -> dict[str, list[str]]:
        """A hold list, as course id → rules: courses the model has, not cancelled (a
        cancellation only credits), each once, with its municipality and explained rules."""
        out: dict[str, list[str]] = {}
        for hold in holds:
            course = self.model.courses[hold["course_id"]]
            assert course.status != "cancelled" and hold["course_id"] not in out, hold
            assert hold["municipality_code"] == course.municipality, hold
            assert hold["rules"] and all(r["explanation"] for r in hold["rules"]), hold
            out[course.id] = [r["rule"] for r in hold["rules"]]
        return out

    def in_model_order(self, ids: Iterable[str]) -> list[str]:
        """Course ids in the order of registration, not of their random UUIDs: what a rule
        picks among them depends only on Hypothesis's draws (derandomized runs repeat)."""
        wanted = set(ids)
        return [course_id for course_id in self.model.courses if course_id in wanted]

    def teardown(self) -> None:
        async def close() -> None:
            for client in self.clients.values():
                await client.aclose()
            if self._app is not None:
                await self._app.state.engine.dispose()

        try:
            self.run(close())
            self.run(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()
            if self.db_file is not None:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.db_file}{suffix}").unlink(missing_ok=True)

    def pick(self, choice: int, courses: list[Course]) -> Course:
        return courses[choice % len(courses)]

    def not_cancelled(self) -> list[Course]:
        return [c for c in self.model.courses.values() if c.status != "cancelled"]

    def completable(self) -> list[Course]:
        return [
            c for c in self.model.courses.values() if c.status == "active" and c.start <= self.today
        ]

    # --- rules ---------------------------------------------------------------------------

    @rule(
        municipality=st.sampled_from(MUNICIPALITIES),
        hospital=st.sampled_from(HOSPITALS),
        treatment=st.sampled_from(TREATMENTS),
        days_back=st.integers(-3, 75),
        length=st.none() | st.integers(1, 30),
        given=st.integers(0, 10),
    )
    def register(
        self,
        municipality: str,
        hospital: str,
        treatment: str,
        days_back: int,
        length: int | None,
        given: int,
    ) -> None:
        """A referral, accepted; the start may lie in a month already issued (a late
        registration). Doses are given on the first `given` days (until today), and a
        course already over is completed at once (`length` days)."""
        self.step()
        start = max(EARLIEST_START, self.today - timedelta(days=days_back))
        self.cprs += 1
        referral = self.call(
            hospital,
            "POST",
            "/api/v1/referrals",
            201,
            referral_payload(
                hospital_code=hospital,
                municipality_code=municipality,
                treatment_type=treatment,
                patient_cpr=f"010150{self.cprs:04d}",
                expected_start_date=start.isoformat(),
            ),
        )
        out = self.call(
            municipality,
            "POST",
            f"/api/v1/referrals/{referral['id']}/accept",
            201,
            {"start_date": start.isoformat(), "setting": "home"},
        )
        course = Course(
            id=out["id"],
            municipality=municipality,
            hospital=hospital,
            treatment=treatment,
            start=start,
            created_at=self.now(),
        )
        self.model.courses[course.id] = course
        if given and start <= self.today:
            self.record_visits(course, start, min(given, (self.today - start).days + 1), True)
        if length is not None and start + timedelta(days=length - 1) <= self.today:
            self.complete_course(course, start + timedelta(days=length - 1))

    @precondition(lambda self: self.model.courses)
    @rule(
        which=PICK,
        first=PICK,
        days=st.integers(1, 10),
        administered=st.booleans() | st.just(True),
    )
    def visits(self, which: int, first: int, days: int, administered: bool) -> None:
        """A batch of daily visits from a day between the day before the start and the
        day after the last possible one, often in a month already issued."""
        self.step()
        course = self.pick(which, list(self.model.courses.values()))
        last = min(course.end or self.today, self.today)
        span = max(0, (last - course.start).days + 1)
        begin = course.start - timedelta(days=1) + timedelta(days=first % (span + 2))
        self.record_visits(course, begin, days, administered)

    def record_visits(self, course: Course, begin: date, days: int, administered: bool) -> None:
        """Daily visits at 09:00 from `begin`, as one batch: a visit outside the course dates
        or in the future is refused, the others are stored."""
        items: list[dict[str, Any]] = []
        expected: list[int] = []
        for offset in range(days):
            when = begin + timedelta(days=offset)
            outside = when < course.start or (course.end is not None and when > course.end)
            if course.status == "cancelled":
                expected.append(409)  # course_cancelled
            elif outside or when > self.today:  # visit_outside_course, visit_in_future
                expected.append(422)
            else:
                expected.append(201)
            items.append(
                {
                    "course_id": course.id,
                    "id": str(uuid.uuid4()),
                    "started_at": datetime.combine(when, time(9, 0), LOCAL).isoformat(),
                    "duration_minutes": 30,
                    "setting": "home",
                    "administered": administered,
                }
            )
        out = self.call(course.municipality, "POST", "/api/v1/visits/batch", 200, {"visits": items})
        assert [r["http_status"] for r in out["results"]] == expected, out
        if administered:
            course.given_days.update(
                date.fromisoformat(item["started_at"][:10])
                for item, status in zip(items, expected, strict=True)
                if status == 201
            )

    def complete_course(self, course: Course, end: date) -> None:
        self.call(
            course.municipality,
            "POST",
            f"/api/v1/courses/{course.id}/complete",
            200,
            {"end_date": end.isoformat(), "reason": "completed"},
        )
        course.status, course.end = "completed", end

    @precondition(lambda self: self.completable())
    @rule(which=PICK, day=PICK)
    def complete(self, which: int, day: int) -> None:
        self.step()
        course = self.pick(which, self.completable())
        self.complete_course(
            course, course.start + timedelta(days=day % ((self.today - course.start).days + 1))
        )

    @precondition(lambda self: self.not_cancelled())
    @rule(which=PICK, new_start=st.none() | PICK, new_end=st.none() | PICK)
    def correct(self, which: int, new_start: int | None, new_end: int | None) -> None:
        """Corrected start and/or end date (the end only of a completed course)."""
        self.step()
        course = self.pick(which, self.not_cancelled())
        if course.status != "completed":
            new_end = None
        start, end = course.start, course.end
        if new_start is not None:
            latest = self.today + timedelta(days=3)
            if course.end is not None:
                latest = course.end if new_end is None else self.today
            start = EARLIEST_START + timedelta(
                days=new_start % ((latest - EARLIEST_START).days + 1)
            )
        if new_end is not None:
            end = start + timedelta(days=new_end % ((self.today - start).days + 1))
        body = {"reason": "registered wrongly"}
        if start != course.start:
            body["start_date"] = start.isoformat()
        if end != course.end:
            body["end_date"] = str(end)
        expected = 200 if len(body) > 1 else 422  # nothing_to_correct
        self.call(
            course.municipality, "POST", f"/api/v1/courses/{course.id}/corrections", expected, body
        )
        if expected == 200:
            course.start, course.end, course.corrected_at = start, end, self.now()

    @precondition(lambda self: self.not_cancelled())
    @rule(which=PICK)
    def cancel(self, which: int) -> None:
        self.step()
        course = self.pick(which, self.not_cancelled())
        self.call(
            course.municipality,
            "POST",
            f"/api/v1/courses/{course.id}/cancel",
            200,
            {"reason": "registered in error"},
        )
        course.status = "cancelled"

    @precondition(lambda self: self.model.held)
    @rule(every=st.booleans(), mask=PICK)
    def release(self, every: bool, mask: int) -> None:
        """The region releases courses held now: every one, or those `mask` picks."""
        self.step()
        self.release_picked(every, mask)

    def release_picked(self, every: bool, mask: int) -> None:
        """Release every held course, or those `mask` picks (at least one)."""
        period = self.model.open_period()
        held = self.holds(period)
        assert set(held) == self.model.held  # as the draft's summary had them
        ids = self.in_model_order(held)
        chosen = ids if every else [c for i, c in enumerate(ids) if (mask >> i % 20) & 1]
        self.release_holds(period, held, chosen or [ids[mask % len(ids)]])

    def release_holds(self, period: Month, held: dict[str, list[str]], chosen: list[str]) -> None:
        """Release the `chosen` of the `held` courses: each release covers the rules that
        hold the course now, a second one is refused, and the others stay held."""
        note = {"note": "Kontrolleret: doserne er givet"}
        for course_id in chosen:
            url = f"/api/v1/courses/{course_id}/hold-release"
            out = self.call("region", "POST", url, 200, note)
            assert out["course_id"] == course_id and set(held[course_id]) <= set(out["rules"])
            self.released.add(course_id)
        again = self.call("region", "POST", f"/api/v1/courses/{chosen[0]}/hold-release", 409, note)
        assert again["code"] == "course_not_held", again
        left = self.holds(period)
        assert set(left) == set(held) - set(chosen), (left, chosen)
        self.model.held = frozenset(left)

    @rule(days=st.integers(1, 12), review=st.none() | PICK)
    def time_passes(self, days: int, review: int | None) -> None:
        """Days pass; with `review` the region meanwhile releases some held courses."""
        self.step(days)
        if review is not None and self.model.held:
            self.release_picked(False, review)

    @precondition(lambda self: len(self.issued) < MAX_ISSUES)
    @rule(days_after=st.integers(0, 4))
    def issue(self, days_after: int) -> None:
        """Issue the open period (moving the clock past its end first if need be), then
        issue it again: the same issue, answered with 200. The courses held then are left
        out of it. Before the last issue (January) the region releases every course still
        held: a history ends with everything released and settled."""
        period = self.model.open_period()
        self.step(max(0, (last_day(period) - self.today).days + 1 + days_after))
        text = month_text(period)
        held = self.holds(period)
        self.model.held = frozenset(held)
        if held and len(self.issued) == MAX_ISSUES - 1:
            self.release_holds(period, held, self.in_model_order(held))
        self.released_by_last_issue = bool(self.released)
        summary = self.call("region", "POST", f"/api/v1/settlements/{text}/issue", 201)
        again = self.call("region", "POST", f"/api/v1/settlements/{text}/issue", 200)
        assert again == summary and summary["holds"] == []
        expected = Counter(self.model.issue(self.now()))
        snapshot: dict[str, Any] = {"summary": summary}
        for code in MUNICIPALITIES:
            statement = self.call(
                "region", "GET", f"/api/v1/settlements/{text}/statements/{code}", 200
            )
            assert statement["state"] == "issued" and statement["hash"] == content_hash(statement)
            snapshot[code] = statement
        assert_same_lines(
            sum((service_lines(snapshot[code]) for code in MUNICIPALITIES), Counter()),
            expected,
            f"issued {text}",
        )
        self.issued[text] = snapshot
        self.check_courses()
        # Every issue so far recomputes from the recorded history, hash for hash.
        checks = self.run(self.verify_all())
        failed = [(c.period, c.problems, [s.problems for s in c.statements if s.problems])
                  for c in checks if not c.ok]  # fmt: skip
        assert not failed and len(checks) == len(self.issued), failed

    async def verify_all(self) -> list[IssueCheck]:
        async with self.app.state.sessionmaker() as session:
            return await verify(session)

    # --- invariants ----------------------------------------------------------------------

    def check_courses(self) -> None:
        """Each course's staircase place and billed total, as the model has them."""
        for course in self.model.courses.values():
            out = self.call("region", "GET", f"/api/v1/courses/{course.id}", 200)
            place = course.placement
            assert out["staircase"] == (
                None
                if place is None
                else {"year": place.year, "position": place.position, "tier": place.tier}
            ), course.id
            billed = sum(
                quantity * course.unit_price(kind, place.tier if place else 1)
                for (course_id, kind, _), quantity in self.model.issued.items()
                if course_id == course.id
            )
            assert ore(out["billed_total"]) == billed, course.id

    @invariant()
    def draft_matches_the_model(self) -> None:
        """The open period's draft, line by line, and the summary around it; the courses
        its summary says are held are what the model leaves out."""
        period = self.model.open_period()
        text = month_text(period)
        summary = self.call("region", "GET", f"/api/v1/settlements/{text}", 200)
        self.model.held = frozenset(self.check_holds(summary["holds"]))
        expected = Counter(self.model.statement(period))
        found: Counter[Line] = Counter()
        for code in MUNICIPALITIES:
            statement = self.call(
                "region", "GET", f"/api/v1/settlements/{text}/statements/{code}", 200
            )
            assert statement["state"] == "draft" and statement["number"] is None
            assert ore(statement["total"]) == sum(line.amount for line in service_lines(statement))
            found += service_lines(statement)
        assert_same_lines(found, expected, f"draft {text} on {self.today}")
        assert summary["state"] == "draft"
        assert ore(summary["total"]) == sum(line.amount for line in expected.elements())
        for row in summary["municipalities"]:
            if row["municipality_code"] not in MUNICIPALITIES:
                assert row["line_count"] == 0 and row["total"] == "0.00", row
        assert summary["staircase"]["counted"] == self.model.counted(period[0])
        assert summary["registered_not_settled"] == self.model.unbilled(period)

    @invariant()
    def issued_statements_never_change(self) -> None:
        """Re-read every issued statement: the same content and hash as at its issue."""
        for text, snapshot in self.issued.items():
            summary = self.call("region", "GET", f"/api/v1/settlements/{text}", 200)
            for field in LIVE_SUMMARY_FIELDS:
                summary.pop(field)
            first = {k: v for k, v in snapshot["summary"].items() if k not in LIVE_SUMMARY_FIELDS}
            assert summary == first, f"the summary of issued {text} changed"
            for code in MUNICIPALITIES:
                statement = self.call(
                    "region", "GET", f"/api/v1/settlements/{text}/statements/{code}", 200
                )
                assert statement == snapshot[code], f"issued statement {text}/{code} changed"

    def issued_net(self) -> Counter[Item]:
        """Each billed item's net quantity over all issued statements (as first read),
        checking that no regular line (course, kind, month) is issued twice."""
        net: Counter[Item] = Counter()
        regular: Counter[tuple[str, str, str]] = Counter()
        for text, snapshot in self.issued.items():
            for code in MUNICIPALITIES:
                for line in snapshot[code]["lines"]:
                    year, month = line["period"].split("-")
                    net[(line["course_id"], line["kind"], (int(year), int(month)))] += line[
                        "quantity"
                    ]
                    if not line["adjustment"]:
                        assert line["period"] == text, line
                        regular[(line["course_id"], line["kind"], line["period"])] += 1
                    else:
                        assert line["period"] < text, line
        assert all(count == 1 for count in regular.values()), regular
        return net

    @invariant()
    def issued_lines_net_to_what_was_owed(self) -> None:
        """Over all issued statements, each billed item nets to what the model says its
        course owed when an issue last read it (a course held at an issue keeps what it was
        billed before), and no regular line is issued twice."""
        assert_same_items(self.issued_net(), self.model.settled())

    @invariant()
    @precondition(lambda self: self.released_by_last_issue and not self.model.held_at_last_issue)
    def once_released_issued_equals_owed(self) -> None:
        """Holds were released, then an issue held nothing: every billed item nets to
        what the data said every course owed then (issued equals owed, nothing twice), and
        each year's staircase has positions 1..n, one course each."""
        assert_same_items(self.issued_net(), self.model.owed_at_last_issue)
        years: dict[int, list[int]] = {}
        for course in self.model.courses.values():
            if course.placement is not None:
                years.setdefault(course.placement.year, []).append(course.placement.position)
        assert all(sorted(p) == list(range(1, len(p) + 1)) for p in years.values()), years


def machine_for(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> type[SettlementMachine]:
    template: Path | None = None
    if database_url.startswith("sqlite"):
        template = request.getfixturevalue("sqlite_template")
    return type(
        "Machine",
        (SettlementMachine,),
        {"url": database_url, "template": template, "workdir": tmp_path},
    )


@pytest.mark.slow
def test_settlement_follows_the_model(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Random histories through the API agree with the model after every step."""
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    machine = machine_for(database_url, tmp_path, request)
    run_state_machine_as_test(machine, settings=settings(SETTINGS, max_examples=EXAMPLES[backend]))


def test_courses_held_over_issues_are_owed_once_released(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A history the random ones reach only now and then, step by step through the same
    machine and its invariants: a course completed without a dose is held over October's
    issue and billed in November's, for October, once released; a billed course corrected
    to end nine days after its last dose is held over November's issue (its extra days
    wait) and, released, billed in December's, for October, as a correction."""
    machine = machine_for(database_url, tmp_path, request)()

    def then_check() -> None:
        machine.draft_matches_the_model()
        machine.issued_statements_never_change()
        machine.issued_lines_net_to_what_was_owed()

    def issued(period: str, course: Course) -> list[tuple[str, str, int, str | None]]:
        return sorted(
            (line["kind"], line["period"], line["quantity"], line["reason"])
            for line in machine.issued[period][course.municipality]["lines"]
            if line["course_id"] == course.id
        )

    try:
        # 1 November: fluids 12-16 October without a dose; antibiotics 2-11 October given.
        machine.register("101", "HGH", "fluids", days_back=20, length=5, given=0)
        machine.register("157", "RH", "antibiotics", days_back=30, length=10, given=10)
        undosed, dosed = machine.model.courses.values()
        then_check()
        assert machine.model.held == {undosed.id}
        machine.issue(days_after=0)
        then_check()
        assert issued("2024-10", undosed) == [] and dosed.placement is not None
        machine.release(every=True, mask=0)
        then_check()
        # The end moved from 11 to 20 October: nine days after the last dose.
        machine.correct(which=1, new_start=None, new_end=18)
        assert dosed.end == date(2024, 10, 20)
        then_check()
        assert machine.model.held == {dosed.id}
        machine.issue(days_after=3)
        then_check()
        assert issued("2024-11", undosed) == [
            ("course_fee", "2024-10", 1, "late_registration"),
            ("day_fee", "2024-10", 2, "late_registration"),
        ]
        assert issued("2024-11", dosed) == []
        machine.time_passes(days=5, review=1)
        then_check()
        assert not machine.model.held
        machine.issue(days_after=0)
        then_check()
        assert issued("2024-12", dosed) == [("day_fee", "2024-10", 9, "correction")]
        assert machine.released_by_last_issue and not machine.model.held_at_last_issue
        machine.once_released_issued_equals_owed()
    finally:
        machine.teardown()


def test_the_model_agrees_with_the_readme_example() -> None:
    """The model itself, on README's worked example (antibiotics 28 March - 5 April)."""
    model = Model(thresholds=(1500, 3000), first_period=(2024, 3))
    course = Course(
        "c", "157", "HGH", "antibiotics", date(2024, 3, 28), datetime(2024, 3, 28, tzinfo=UTC)
    )
    course.status, course.end = "completed", date(2024, 4, 5)
    model.courses["c"] = course
    (march,) = model.issue(datetime(2024, 4, 1, tzinfo=UTC))
    assert (march.kind, march.amount) == ("course_fee", 691_500)
    (april,) = model.issue(datetime(2024, 5, 1, tzinfo=UTC))
    assert (april.kind, april.quantity, april.amount) == ("day_fee", 3, 3 * 148_500)
    course.end = date(2024, 4, 3)
    course.corrected_at = datetime(2024, 5, 2, tzinfo=UTC)
    (credit,) = model.statement((2024, 5))
    assert (credit.period, credit.amount, credit.reason) == ("2024-04", -2 * 148_500, "correction")
    assert month_of(course.start) == (2024, 3) and RATES["antibiotics"].included_days == 6
