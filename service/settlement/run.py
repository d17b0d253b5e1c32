"""The run of a monthly settlement: gather its inputs, then compute with the pure core.

"Desired minus issued": the statement for period P holds what the data now says is owed
for every period up to P, minus what was issued. `compute` gathers the inputs from the live
data (a draft, or an issue about to be stored); `ivsettle verify` rebuilds them from the
recorded history (service.settlement.verify); both hand them to `settle`, which does no
I/O. Domain errors (a missing price index, a period before the agreement) propagate.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.review import HoldRule, HoldRules, hold_reasons
from service.domain.settlement import (
    DeltaLine,
    IssuedLine,
    OwedLine,
    Period,
    is_billable_by,
    owed_lines,
    statement_delta,
)
from service.domain.staircase import Placement, StaircaseCandidate, assign_positions
from service.domain.tariff import Payer, TariffVersion, payer_on, version_for
from service.domain.vocabulary import AdjustmentReason
from service.settlement import repository

# A course not yet on the staircase: what `settle` assumes for its tier (it owes nothing
# until it is placed) and shows as its position.
_UNPLACED_TIER = 1
_UNPLACED_POSITION = 0


@dataclass(frozen=True)
class PricedDelta:
    """A statement line with its course's staircase position (the reading order)."""

    line: DeltaLine
    position: int


@dataclass
class Run:
    """A computed settlement of one period for all municipalities (a draft until stored)."""

    period: Period
    payer: Payer
    lines: dict[str, list[PricedDelta]]
    new_placements: dict[str, Placement]
    tariff_fingerprint: dict[str, str]
    price_indices: dict[int, int]
    # Course id → the revision read: what the issue records as its inputs.
    course_revisions: dict[str, int]
    held: list[Hold] = field(default_factory=list)
    """Courses held out by the review rules (compute with rules only)."""
    traces: dict[str, repository.LineTrace] = field(default_factory=dict)
    """Course id → what its lines are traced by (printed on them; `compute` reads them for
    the courses with lines, `ivsettle verify` takes them from the stored lines)."""

    @property
    def courses_considered(self) -> int:
        return len(self.course_revisions)


@dataclass(frozen=True)
class RunInputs:
    """Everything a run computes from, gathered from the live data (a draft or an issue)
    or rebuilt from the history (`ivsettle verify`)."""

    period: Period
    courses: list[repository.CourseRow]
    placed: dict[str, Placement]
    next_free: dict[int, int]
    versions: list[TariffVersion]
    tariff_fingerprint: dict[str, str]
    price_indices: dict[int, int]
    issued: list[IssuedLine]
    corrected: set[str]


@dataclass(frozen=True)
class Hold:
    """A course the review rules hold out of the run, until the region releases them."""

    course_id: str
    municipality_code: str
    rules: tuple[HoldRule, ...]


async def compute(session: AsyncSession, period: Period, rules: HoldRules | None = None) -> Run:
    """Settle `period` as the data says now, against what was issued (nothing is stored).
    With `rules`, the courses they hold are left out entirely (their lines, their issued
    lines, their staircase place): not read by this run, they stay candidates of the next
    ones (`candidate_courses`), and once released they are owed like any late data."""
    inputs = await _live_inputs(session, period)
    held = await held_courses(session, inputs.courses, rules, period) if rules else []
    if held:
        out = {h.course_id for h in held}
        inputs = replace(
            inputs,
            courses=[r for r in inputs.courses if r.facts.course_id not in out],
            issued=[line for line in inputs.issued if line.course_id not in out],
            corrected=inputs.corrected - out,
        )
    run = settle(inputs)
    run.held = held
    run.traces = await repository.line_traces(
        session, {d.line.course_id for deltas in run.lines.values() for d in deltas}
    )
    return run


async def held_courses(
    session: AsyncSession, rows: list[repository.CourseRow], rules: HoldRules, period: Period
) -> list[Hold]:
    """The run's courses that a rule holds and the region has not released from it."""
    if not rules.enabled:
        return []
    fired = {
        f.course_id: reasons
        for f in await repository.hold_facts(session, rows)
        if (reasons := hold_reasons(f, rules, period.last_day))
    }
    if not fired:
        return []
    released = await repository.released_rules(session, [uuid.UUID(c) for c in fired])
    municipality = {r.facts.course_id: r.facts.municipality_code for r in rows}
    holds = []
    for course_id, reasons in sorted(fired.items()):
        still = tuple(r for r in reasons if r not in released.get(course_id, set()))
        if still:
            holds.append(Hold(course_id, municipality[course_id], still))
    return holds


async def _live_inputs(session: AsyncSession, period: Period) -> RunInputs:
    last = await repository.last_issue(session)
    indices = await repository.price_indices(session)
    fingerprint = await repository.tariff_fingerprint(session)
    inputs_unchanged = (
        last is not None
        and last.tariff_versions == fingerprint
        and last.price_indices == {str(year): value for year, value in indices.items()}
    )
    open_from = Period.parse(last.period).next().first_day if last is not None else None
    rows = await repository.candidate_courses(session, open_from if inputs_unchanged else None)
    ids = [row.facts.course_id for row in rows]
    return RunInputs(
        period=period,
        courses=rows,
        placed=await repository.positions(session, ids),
        next_free=await repository.next_free_positions(session),
        versions=await repository.tariff_versions(session),
        tariff_fingerprint=fingerprint,
        price_indices=indices,
        issued=await repository.issued_lines(session, ids),
        corrected=await repository.corrected_courses(
            session, {uuid.UUID(row.facts.course_id): row.revision for row in rows}
        ),
    )


def settle(inputs: RunInputs) -> Run:
    """The run's arithmetic over its inputs (no I/O): staircase places for courses billed
    for the first time, owed lines, and desired-minus-issued per municipality."""
    period, rows, versions = inputs.period, inputs.courses, inputs.versions
    new_placements = assign_positions(
        [
            StaircaseCandidate(row.facts.course_id, row.facts.start_date, row.created_at)
            for row in rows
            if row.facts.course_id not in inputs.placed and is_billable_by(row.facts, period)
        ],
        inputs.next_free,
        lambda start: version_for(versions, start).tier_thresholds,
    )
    place = inputs.placed | new_placements
    index_fractions = repository.as_fractions(inputs.price_indices)
    owed: list[OwedLine] = []
    for row in rows:
        placed = place.get(row.facts.course_id)
        tier = placed.tier if placed is not None else _UNPLACED_TIER
        tariff = version_for(versions, row.facts.start_date)
        owed.extend(owed_lines(row.facts, tariff, tier, index_fractions, period))
    reasons: dict[str, AdjustmentReason] = dict.fromkeys(inputs.corrected, "correction")
    reasons |= {
        row.facts.course_id: "cancellation" for row in rows if row.facts.status == "cancelled"
    }
    by_municipality: dict[str, list[PricedDelta]] = defaultdict(list)
    for line in statement_delta(owed, inputs.issued, period, reasons):
        placed = place.get(line.course_id)
        position = placed.position if placed is not None else _UNPLACED_POSITION
        by_municipality[line.municipality_code].append(PricedDelta(line, position))
    for deltas in by_municipality.values():
        deltas.sort(key=_reading_order)
    return Run(
        period=period,
        payer=payer_on(versions, period.first_day),
        lines=dict(by_municipality),
        new_placements=new_placements,
        tariff_fingerprint=inputs.tariff_fingerprint,
        price_indices=inputs.price_indices,
        course_revisions={row.facts.course_id: row.revision for row in rows},
    )


def _reading_order(d: PricedDelta) -> tuple[Any, ...]:
    """As finance reads a statement: regular lines first, then adjustments by the period
    they concern; within them by staircase position, course fee before day fees."""
    line = d.line
    return (line.adjustment, line.period, d.position, line.course_id, line.kind, line.quantity)
