"""Carrying out a simulation plan through the service's own use cases.

The simulated hospitals, municipalities and region finance are real API clients (created
here, their keys thrown away) and act through the same use cases as the HTTP API, in the
chronological order of the plan, with the service's clock pinned to each event's instant:
so created/recorded times, "no visit in the future", "no end date in the future" and
"only an ended period is issued" hold as they would in production.

One transaction per simulated day, and the session emptied after each, keeps memory
bounded; each use case runs in a savepoint, so a refusal rolls back that use case alone,
as a failed request would.
Visits are synced once a day per municipality (23:30), in batches of at most 1,000.
"""

from __future__ import annotations

import functools
import random
import time as timer
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.access.auth import Principal, Role
from service.access.clients import add_client, principal_of
from service.access.vault import CprVault, load_vault
from service.course import service as courses
from service.course.schemas import CancelIn, CompleteIn, CorrectionIn
from service.deps import Ctx
from service.domain.money import format_kr, parse_kr
from service.domain.settlement import Period
from service.domain.tariff import DomainError
from service.errors import Conflict, ServiceError, as_service_error
from service.kit.clock import LOCAL_TZ, Clock
from service.kit.db import standalone_session
from service.kit.rows import from_row
from service.kit.settings import Settings
from service.models import Course, Hospital, Municipality, SettlementIssue
from service.referral import service as referrals
from service.referral.schemas import AcceptIn, ReferralIn, RejectIn
from service.settlement import service as settlement_service
from service.settlement.approval import approve_period
from service.settlement.issue import issue_period
from service.settlement.schemas import HoldReleaseIn
from service.simulation.plan import (
    Plan,
    ReferralPlan,
    SimulationOptions,
    make_plan,
    planned_visits,
    synthetic_cpr,
)
from service.simulation.summary import SimulationSummary
from service.tariff.repository import version_valid_on
from service.visit import service as visits
from service.visit.schemas import MAX_BATCH, BatchVisitIn

T = TypeVar("T")
Progress = Callable[[str], None]

# Event kinds, in the order they run when two fall on the same instant.
REFERRAL, REJECT, ACCEPT, LATE, SYNC, COMPLETE, CORRECT, CANCEL, ISSUE = range(9)
SYNC_MINUTES = 23 * 60 + 30  # the nurses' devices sync the day's visits at 23:30
CORRECTION_REASON = "Slutdato rettet efter gennemgang af journalen"


class SimulationRefused(Exception):
    """The simulation cannot run on this database or at this time (nothing was written)."""


def _refusal(exc: ServiceError | DomainError) -> ServiceError:
    """A use case's refusal as the problem the API would answer."""
    return as_service_error(exc) if isinstance(exc, DomainError) else exc


@dataclass(frozen=True, order=True)
class _Event:
    at: datetime
    kind: int
    index: int = 0
    municipality: str = ""


@dataclass(frozen=True)
class _Clients:
    hospitals: dict[str, Principal]
    municipalities: dict[str, Principal]
    region: Principal
    controller: Principal
    """The region's second pair of eyes: approves each draft that `region` then issues."""


async def simulate(
    settings: Settings, options: SimulationOptions, progress: Progress | None = None
) -> SimulationSummary:
    """Run a simulation on the database of `settings` (migrated, reference data loaded)."""
    async with standalone_session(settings) as session:
        return await run_simulation(
            session,
            load_vault(settings),
            options,
            now=Clock(settings.now).now(),
            progress=progress,
        )


async def run_simulation(
    session: AsyncSession,
    vault: CprVault,
    options: SimulationOptions,
    *,
    now: datetime,
    progress: Progress | None = None,
) -> SimulationSummary:
    """Plan, check the database is fresh, create the clients, and play the plan."""
    started = timer.perf_counter()
    plan = make_plan(options)
    if plan.horizon > now:
        raise SimulationRefused(
            f"the simulated months must have ended and been issued by now ({now:%Y-%m-%d}); "
            f"the last one is issued {plan.horizon:%Y-%m-%d}"
        )
    runner = _Runner(plan, session, vault, progress, started)
    await runner.prepare()
    await runner.play()
    runner.summary.elapsed_seconds = timer.perf_counter() - started
    return runner.summary


class _Runner:
    def __init__(
        self,
        plan: Plan,
        session: AsyncSession,
        vault: CprVault,
        progress: Progress | None,
        started: float,
    ) -> None:
        self.plan = plan
        self.session = session
        self.vault = vault
        self.progress = progress
        self.started = started
        self.clock = Clock(pinned=plan.horizon)
        self.summary = SimulationSummary()
        self.referral_ids: dict[int, uuid.UUID] = {}
        self.course_ids: dict[int, uuid.UUID] = {}
        self.closed: set[int] = set()
        self.queue: dict[date, dict[str, list[BatchVisitIn]]] = defaultdict(
            lambda: defaultdict(list)
        )
        self.clients: _Clients | None = None

    # --- set-up ----------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Refuse a database that already holds activity; create the simulated clients."""
        first = self.plan.options.start.first_day
        session = self.session
        if await session.scalar(select(func.count()).select_from(Course)):
            raise SimulationRefused("the database already holds courses: simulate into a fresh one")
        if await session.scalar(select(func.count()).select_from(SettlementIssue)):
            raise SimulationRefused("the database already holds issued periods: use a fresh one")
        if await version_valid_on(session, first) is None:
            raise SimulationRefused(f"no tariff version covers {first}: start later")
        created_at = (
            min(r.referred_at for r in self.plan.referrals)
            if self.plan.referrals
            else self.plan.horizon
        )
        hospitals = {
            h.code: await self._client(f"Simulering: {h.code} EPJ", "hospital", h.code, created_at)
            for h in (await session.scalars(select(Hospital).order_by(Hospital.code))).all()
        }
        municipalities = {
            m.code: await self._client(
                f"Simulering: {m.name} omsorg", "municipality", m.code, created_at
            )
            for m in (await session.scalars(select(Municipality).order_by(Municipality.code))).all()
        }
        region = await self._client("Simulering: Regionens økonomi", "region", None, created_at)
        controller = await self._client(
            "Simulering: Regionens controller", "region", None, created_at
        )
        await self._end_of_day()
        self.clients = _Clients(hospitals, municipalities, region, controller)

    async def _client(
        self, name: str, role: Role, org: str | None, created_at: datetime
    ) -> Principal:
        # Its key is never shown: the simulated clients act inside this process. The
        # organisations were just read from the reference data.
        new = await add_client(self.session, name, role, org, created_at, check_org=False)
        return principal_of(new.client)

    async def _end_of_day(self) -> None:
        """Commit, and start the next day with an empty session (bounded memory)."""
        await self.session.commit()
        self.session.expunge_all()

    # --- the timeline ----------------------------------------------------------------------

    def _events(self) -> dict[date, list[_Event]]:
        plan = self.plan
        events: list[_Event] = []
        for r in plan.referrals:
            events.append(_Event(r.referred_at, REFERRAL, r.index))
            if r.rejection is not None:
                events.append(_Event(r.rejection.at, REJECT, r.index))
            c = r.course
            if c is None:
                continue
            events.append(_Event(c.accepted_at, LATE if c.late else ACCEPT, r.index))
            if c.completed_at is not None and not c.late:
                events.append(_Event(c.completed_at, COMPLETE, r.index))
            if c.cancelled_at is not None:
                events.append(_Event(c.cancelled_at, CANCEL, r.index))
            if c.corrected_at is not None:
                events.append(_Event(c.corrected_at, CORRECT, r.index))
        if plan.options.issue:
            events.extend(_Event(at, ISSUE, i) for i, (_, at) in enumerate(plan.issues))
        by_day: dict[date, list[_Event]] = defaultdict(list)
        for event in events:
            if event.at <= plan.horizon:
                by_day[event.at.astimezone(LOCAL_TZ).date()].append(event)
        return by_day

    async def play(self) -> None:
        by_day = self._events()
        if not by_day:
            return
        day, last = min(by_day), self.plan.horizon.astimezone(LOCAL_TZ).date()
        while day <= last:
            events = by_day.pop(day, [])
            sync_at = datetime.combine(day, datetime.min.time(), LOCAL_TZ) + timedelta(
                minutes=SYNC_MINUTES
            )
            if sync_at <= self.plan.horizon:
                events.extend(_Event(sync_at, SYNC, 0, m) for m in sorted(self.queue.get(day, {})))
            if events:
                await self._play_day(sorted(events))
            self.queue.pop(day, None)
            day += timedelta(days=1)
        self.summary.active_at_end = len(self.course_ids) - len(self.closed)

    async def _play_day(self, events: list[_Event]) -> None:
        session = self.session
        for event in events:
            self.clock.pinned = event.at
            if event.kind == ISSUE:
                await session.commit()  # the issue sees the day's work so far
                await self._issue(session, event.index)
            else:
                await self._handle(session, event)
        await self._end_of_day()

    async def _handle(self, session: AsyncSession, event: _Event) -> None:
        if event.kind == SYNC:
            await self._sync(session, event.at.astimezone(LOCAL_TZ).date(), event.municipality)
            return
        r = self.plan.referrals[event.index]
        if event.kind == REFERRAL:
            await self._refer(session, r)
        elif event.kind == REJECT:
            await self._reject(session, r)
        elif event.kind == ACCEPT:
            await self._accept(session, r, queue_visits=True)
        elif event.kind == LATE:
            await self._register_late(session, r)
        elif event.kind == COMPLETE:
            await self._complete(session, r)
        elif event.kind == CANCEL:
            await self._cancel(session, r)
        elif event.kind == CORRECT:
            await self._correct(session, r)

    # --- the use cases ---------------------------------------------------------------------

    def _ctx(self, session: AsyncSession, principal: Principal) -> Ctx:
        return Ctx(session, principal, self.clock, self.vault)

    def _municipality(self, session: AsyncSession, r: ReferralPlan) -> Ctx:
        assert self.clients is not None
        return self._ctx(session, self.clients.municipalities[r.municipality_code])

    async def _attempt(
        self, session: AsyncSession, what: str, work: Callable[[], Awaitable[T]]
    ) -> T | None:
        """Run one use case in a savepoint; a refusal is counted and rolled back alone."""
        try:
            async with session.begin_nested():
                return await work()
        except (ServiceError, DomainError) as exc:
            refusal = _refusal(exc)
            self.summary.errors.append(f"{what}: {refusal.code}: {refusal.detail}")
            return None

    async def _as_municipality(
        self,
        session: AsyncSession,
        r: ReferralPlan,
        verb: str,
        work: Callable[[Ctx], Awaitable[T]],
    ) -> T | None:
        """The referral's municipality runs one use case, as `_attempt` does."""
        ctx = self._municipality(session, r)
        return await self._attempt(session, f"{verb} {r.external_ref}", lambda: work(ctx))

    def _referral_in(self, r: ReferralPlan, cpr: str) -> ReferralIn:
        """The hospital's referral of the plan; the rest of its fields are the plan's own."""
        return from_row(
            ReferralIn,
            r,
            patient_cpr=cpr,
            expected_start_date=r.start_date,
            visits_per_day=len(r.administration_times),
            administration_times=list(r.administration_times),
            first_dose_given_in_hospital=True,
            must_not_be_left_alone=False,
            physician_contact=f"Vagthavende læge, {r.hospital_code}",
        )

    async def _refer(self, session: AsyncSession, r: ReferralPlan) -> None:
        assert self.clients is not None
        ctx = self._ctx(session, self.clients.hospitals[r.hospital_code])
        cpr = r.cpr
        for attempt in range(5):
            try:
                async with session.begin_nested():
                    out, _ = await referrals.create_referral(ctx, self._referral_in(r, cpr))
            except (ServiceError, DomainError) as exc:
                refusal = _refusal(exc)
                if isinstance(refusal, Conflict) and refusal.code == "active_course_exists":
                    # The plan keeps a patient's courses apart; on a database that still
                    # finds one active, the hospital refers another (made-up) patient.
                    rng = random.Random(f"{self.plan.options.seed}:{r.index}:{attempt}")
                    cpr = synthetic_cpr(rng, r.start_date, set())
                    self.summary.patients_substituted += 1
                    continue
                if isinstance(refusal, Conflict):
                    raise
                self.summary.errors.append(
                    f"referral {r.external_ref}: {refusal.code}: {refusal.detail}"
                )
                return
            self.referral_ids[r.index] = out.id
            self.summary.referrals += 1
            if out.status == "rejected":
                self.summary.auto_rejected += 1
            return
        self.summary.errors.append(f"referral {r.external_ref}: no patient without a course")

    async def _reject(self, session: AsyncSession, r: ReferralPlan) -> None:
        referral_id = self.referral_ids.get(r.index)
        if referral_id is None or r.rejection is None:
            return
        body = RejectIn(reason=r.rejection.reason, note=r.rejection.note)
        if await self._as_municipality(
            session, r, "reject", lambda ctx: referrals.reject_referral(ctx, referral_id, body)
        ):
            self.summary.rejected += 1

    async def _accept(self, session: AsyncSession, r: ReferralPlan, queue_visits: bool) -> bool:
        referral_id = self.referral_ids.get(r.index)
        if referral_id is None or r.course is None:
            return False
        body = AcceptIn(start_date=r.start_date, setting=r.course.setting)
        accepted = await self._as_municipality(
            session, r, "accept", lambda ctx: referrals.accept_referral(ctx, referral_id, body)
        )
        if accepted is None:
            return False
        course, _ = accepted
        self.course_ids[r.index] = course.id
        self.summary.courses += 1
        if queue_visits:
            last_day = self.plan.horizon.astimezone(LOCAL_TZ).date()
            for visit in self._visits(r, course.id):
                day = visit.started_at.astimezone(LOCAL_TZ).date()
                if day <= last_day:
                    self.queue[day][r.municipality_code].append(visit)
        return True

    def _visits(self, r: ReferralPlan, course_id: uuid.UUID) -> list[BatchVisitIn]:
        assert r.course is not None
        return [
            BatchVisitIn(
                id=v.id,
                course_id=course_id,
                started_at=v.started_at,
                duration_minutes=v.duration_minutes,
                setting=r.course.setting,
                administered=v.administered,
            )
            for v in planned_visits(r)
        ]

    async def _record(self, session: AsyncSession, ctx: Ctx, items: list[BatchVisitIn]) -> None:
        for chunk in range(0, len(items), MAX_BATCH):
            batch = items[chunk : chunk + MAX_BATCH]
            results = await self._attempt(
                session, "visits", functools.partial(visits.record_visits, ctx, batch)
            )
            for result in results or []:
                if result.status == "created":
                    self.summary.visits += 1
                    if result.visit is not None and result.visit.deviations:
                        self.summary.deviating_visits += 1
                elif result.status == "rejected":
                    self.summary.errors.append(f"visit: {result.code}: {result.detail}")

    async def _sync(self, session: AsyncSession, day: date, municipality: str) -> None:
        items = self.queue.get(day, {}).pop(municipality, [])
        if items:
            assert self.clients is not None
            ctx = self._ctx(session, self.clients.municipalities[municipality])
            await self._record(session, ctx, items)

    async def _register_late(self, session: AsyncSession, r: ReferralPlan) -> None:
        """Registered 1-3 months after the course ended: accepted, its visits recorded and
        completed at once (the municipality catches up on its registrations)."""
        if not await self._accept(session, r, queue_visits=False):
            return
        self.summary.late_registrations += 1
        ctx = self._municipality(session, r)
        await self._record(session, ctx, self._visits(r, self.course_ids[r.index]))
        assert r.course is not None and r.course.completed_at is not None
        self.clock.pinned = r.course.completed_at
        await self._complete(session, r)

    async def _complete(self, session: AsyncSession, r: ReferralPlan) -> None:
        course_id = self.course_ids.get(r.index)
        if course_id is None or r.course is None or r.index in self.closed:
            return
        body = CompleteIn(end_date=r.course.end_date(r.start_date), reason=r.course.end_reason)
        if await self._as_municipality(
            session, r, "complete", lambda ctx: courses.complete_course(ctx, course_id, body)
        ):
            self.summary.completed += 1
            self.closed.add(r.index)

    async def _cancel(self, session: AsyncSession, r: ReferralPlan) -> None:
        course_id = self.course_ids.get(r.index)
        if course_id is None or r.course is None or r.course.cancel_reason is None:
            return
        body = CancelIn(reason=r.course.cancel_reason)
        if await self._as_municipality(
            session, r, "cancel", lambda ctx: courses.cancel_course(ctx, course_id, body)
        ):
            self.summary.cancellations += 1
            if r.index in self.closed:
                self.summary.completed -= 1  # counted as cancelled from now on
            self.closed.add(r.index)

    async def _correct(self, session: AsyncSession, r: ReferralPlan) -> None:
        course_id = self.course_ids.get(r.index)
        if course_id is None or r.course is None or r.course.corrected_end_date is None:
            return
        body = CorrectionIn(end_date=r.course.corrected_end_date, reason=CORRECTION_REASON)
        if await self._as_municipality(
            session, r, "correct", lambda ctx: courses.correct_course(ctx, course_id, body)
        ):
            self.summary.corrections += 1

    async def _issue(self, session: AsyncSession, index: int) -> None:
        assert self.clients is not None
        period, _ = self.plan.issues[index]
        # Four eyes, as the region works: the controller releases what the review rules
        # hold (a simulated course is as it was planned), approves, and finance issues.
        checker = self._ctx(session, self.clients.controller)
        await self._attempt(
            session, f"release holds of {period}", lambda: _release(checker, period)
        )
        # Committed before approving: on PostgreSQL the approval takes its own connection,
        # which would wait for this session's lock on the audit chain's head.
        await session.commit()
        approved = await self._attempt(
            session, f"approve {period}", lambda: approve_period(checker, period)
        )
        await session.commit()
        if approved is None:
            return
        ctx = self._ctx(session, self.clients.region)
        issued = await self._attempt(session, f"issue {period}", lambda: issue_period(ctx, period))
        await session.commit()
        if issued is None:
            return
        summary, _ = issued
        totals = {m.municipality_code: parse_kr(m.total) for m in summary.municipalities}
        self.summary.issued[summary.period] = totals
        if self.progress is not None:
            elapsed = timer.perf_counter() - self.started
            self.progress(
                f"{summary.period} issued: {format_kr(sum(totals.values()))} kr. ({elapsed:.1f} s)"
            )


async def _release(ctx: Ctx, period: Period) -> None:
    for hold in await settlement_service.holds_of(ctx, period):
        await settlement_service.release_hold(
            ctx, hold.course_id, HoldReleaseIn(note="Gennemgået i simuleringen")
        )
