"""Carrying out a simulation plan through the service's own use cases.

The simulated hospitals, municipalities and region finance are real API clients (created
here, their keys thrown away) and act through the same use cases as the HTTP API, in the
chronological order of the plan, with the service's clock pinned to each event's instant:
so created/recorded times, "no visit in the future", "no end date in the future" and
"only an ended period is issued" hold as they would in production.

One session (one transaction) per simulated day keeps memory bounded; each use case runs
in a savepoint, so a refusal rolls back that use case alone, as a failed request would.
Visits are synced once a day per municipality (23:30), in batches of at most 1,000.
"""

from __future__ import annotations

import functools
import random
import time as timer
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.access.auth import Principal, Role, key_digest, new_api_key
from service.access.vault import CprVault, load_vault
from service.course import service as courses
from service.course.schemas import CancelIn, CompleteIn, CorrectionIn
from service.deps import Ctx
from service.domain.money import format_kr, parse_kr
from service.errors import Conflict, ServiceError
from service.kit.clock import LOCAL_TZ, Clock
from service.kit.db import create_engine, create_sessionmaker
from service.kit.settings import Settings
from service.models import ApiClient, Course, Hospital, Municipality, SettlementIssue
from service.referral import service as referrals
from service.referral.schemas import AcceptIn, ReferralIn, RejectIn
from service.settlement import service as settlement
from service.simulation.plan import (
    Plan,
    ReferralPlan,
    SimulationOptions,
    make_plan,
    planned_visits,
    synthetic_cpr,
)
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


@dataclass
class SimulationSummary:
    """What the simulation did; all but `elapsed_seconds` is the same for the same seed."""

    referrals: int = 0
    rejected: int = 0
    auto_rejected: int = 0
    courses: int = 0
    completed: int = 0
    late_registrations: int = 0
    corrections: int = 0
    cancellations: int = 0
    active_at_end: int = 0
    visits: int = 0
    deviating_visits: int = 0
    patients_substituted: int = 0
    issued: dict[str, dict[str, int]] = field(default_factory=dict)
    """Period → kommunekode → statement total (øre)."""
    errors: list[str] = field(default_factory=list)
    elapsed_seconds: float = 0.0

    @property
    def months_issued(self) -> int:
        return len(self.issued)

    @property
    def issued_total_ore(self) -> int:
        return sum(sum(totals.values()) for totals in self.issued.values())

    def comparable(self) -> dict[str, object]:
        """Everything but the elapsed time: what a run with the same seed reproduces."""
        return {k: v for k, v in self.__dict__.items() if k != "elapsed_seconds"}

    def lines(self) -> list[str]:
        return [
            f"referrals: {self.referrals} ({self.rejected} rejected by the municipality, "
            f"{self.auto_rejected} parenteral nutrition rejected by policy)",
            f"courses: {self.courses} ({self.completed} completed, {self.active_at_end} still "
            f"active, {self.late_registrations} registered late, {self.corrections} end dates "
            f"corrected, {self.cancellations} cancelled)",
            f"visits: {self.visits} ({self.deviating_visits} flagged as deviations)",
            f"months issued: {self.months_issued}, total {format_kr(self.issued_total_ore)} kr.",
            f"errors: {len(self.errors)}",
            f"elapsed: {self.elapsed_seconds:.1f} s",
        ]


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


async def simulate(
    settings: Settings, options: SimulationOptions, progress: Progress | None = None
) -> SimulationSummary:
    """Run a simulation on the database of `settings` (migrated, reference data loaded)."""
    engine = create_engine(settings)
    try:
        return await run_simulation(
            create_sessionmaker(engine),
            load_vault(settings),
            options,
            now=Clock(settings.now).now(),
            progress=progress,
        )
    finally:
        await engine.dispose()


async def run_simulation(
    sessionmaker: async_sessionmaker[AsyncSession],
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
    runner = _Runner(plan, sessionmaker, vault, progress, started)
    await runner.prepare()
    await runner.play()
    runner.summary.elapsed_seconds = timer.perf_counter() - started
    return runner.summary


class _Runner:
    def __init__(
        self,
        plan: Plan,
        sessionmaker: async_sessionmaker[AsyncSession],
        vault: CprVault,
        progress: Progress | None,
        started: float,
    ) -> None:
        self.plan = plan
        self.sessionmaker = sessionmaker
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
        async with self.sessionmaker() as session:
            if await session.scalar(select(func.count()).select_from(Course)):
                raise SimulationRefused(
                    "the database already holds courses: simulate into a fresh one"
                )
            if await session.scalar(select(func.count()).select_from(SettlementIssue)):
                raise SimulationRefused(
                    "the database already holds issued periods: use a fresh one"
                )
            if await version_valid_on(session, first) is None:
                raise SimulationRefused(f"no tariff version covers {first}: start later")
            created_at = (
                min(r.referred_at for r in self.plan.referrals)
                if self.plan.referrals
                else self.plan.horizon
            )
            hospitals = {
                h.code: self._client(
                    session, f"Simulering: {h.code} EPJ", "hospital", h.code, created_at
                )
                for h in (await session.scalars(select(Hospital).order_by(Hospital.code))).all()
            }
            municipalities = {
                m.code: self._client(
                    session, f"Simulering: {m.name} omsorg", "municipality", m.code, created_at
                )
                for m in (
                    await session.scalars(select(Municipality).order_by(Municipality.code))
                ).all()
            }
            region = self._client(
                session, "Simulering: Regionens økonomi", "region", None, created_at
            )
            await session.commit()
        self.clients = _Clients(hospitals, municipalities, region)

    @staticmethod
    def _client(
        session: AsyncSession, name: str, role: Role, org: str | None, created_at: datetime
    ) -> Principal:
        key = new_api_key()  # never shown: the simulated clients act inside this process
        client_id = uuid.uuid4()
        session.add(
            ApiClient(
                id=client_id,
                name=name,
                role=role,
                org_code=org,
                key_sha256=key_digest(key),
                key_prefix=key[:12],
                created_at=created_at,
            )
        )
        return Principal(client_id, name, role, org)

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
        async with self.sessionmaker() as session:
            for event in events:
                self.clock.pinned = event.at
                if event.kind == ISSUE:
                    await session.commit()  # the issue sees the day's work so far
                    await self._issue(session, event.index)
                else:
                    await self._handle(session, event)
            await session.commit()

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
        except ServiceError as exc:
            self.summary.errors.append(f"{what}: {exc.code}: {exc.detail}")
            return None

    def _referral_in(self, r: ReferralPlan, cpr: str) -> ReferralIn:
        return ReferralIn(
            external_ref=r.external_ref,
            hospital_code=r.hospital_code,
            department=r.department,
            patient_cpr=cpr,
            municipality_code=r.municipality_code,
            treatment_type=r.treatment_type,
            expected_start_date=r.start_date,
            planned_days=r.planned_days,
            visits_per_day=len(r.administration_times),
            administration_times=list(r.administration_times),
            minutes_per_administration=r.minutes_per_administration,
            first_dose_given_in_hospital=True,
            iv_access=r.iv_access,
            parenteral_nutrition=r.parenteral_nutrition,
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
            except Conflict as exc:
                if exc.code != "active_course_exists":
                    raise
                # The plan keeps a patient's courses apart; on a database that still finds
                # one active, the hospital refers another (made-up) patient instead.
                rng = random.Random(f"{self.plan.options.seed}:{r.index}:{attempt}")
                cpr = synthetic_cpr(rng, r.start_date, set())
                self.summary.patients_substituted += 1
                continue
            except ServiceError as exc:
                self.summary.errors.append(f"referral {r.external_ref}: {exc.code}: {exc.detail}")
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
        ctx = self._municipality(session, r)
        if await self._attempt(
            session,
            f"reject {r.external_ref}",
            lambda: referrals.reject_referral(ctx, referral_id, body),
        ):
            self.summary.rejected += 1

    async def _accept(self, session: AsyncSession, r: ReferralPlan, queue_visits: bool) -> bool:
        referral_id = self.referral_ids.get(r.index)
        if referral_id is None or r.course is None:
            return False
        body = AcceptIn(start_date=r.start_date, setting=r.course.setting)
        ctx = self._municipality(session, r)
        accepted = await self._attempt(
            session,
            f"accept {r.external_ref}",
            lambda: referrals.accept_referral(ctx, referral_id, body),
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
        ctx = self._municipality(session, r)
        if await self._attempt(
            session,
            f"complete {r.external_ref}",
            lambda: courses.complete_course(ctx, course_id, body),
        ):
            self.summary.completed += 1
            self.closed.add(r.index)

    async def _cancel(self, session: AsyncSession, r: ReferralPlan) -> None:
        course_id = self.course_ids.get(r.index)
        if course_id is None or r.course is None or r.course.cancel_reason is None:
            return
        body = CancelIn(reason=r.course.cancel_reason)
        ctx = self._municipality(session, r)
        if await self._attempt(
            session, f"cancel {r.external_ref}", lambda: courses.cancel_course(ctx, course_id, body)
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
        ctx = self._municipality(session, r)
        if await self._attempt(
            session,
            f"correct {r.external_ref}",
            lambda: courses.correct_course(ctx, course_id, body),
        ):
            self.summary.corrections += 1

    async def _issue(self, session: AsyncSession, index: int) -> None:
        assert self.clients is not None
        period, _ = self.plan.issues[index]
        ctx = self._ctx(session, self.clients.region)
        issued = await self._attempt(
            session, f"issue {period}", lambda: settlement.issue_period(ctx, str(period))
        )
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
