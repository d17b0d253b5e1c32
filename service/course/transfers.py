"""Use cases of transfers: a course's move to another municipality.

The municipality that has the course proposes the move; until the receiving municipality
accepts, the course stays where it is (the receiving one sees the proposal, not the course
or its patient's CPR number); the receiving municipality accepts or declines, the sending
one may withdraw while it waits. The region's transfer is in effect at once. An accepted
(or the region's) transfer changes the course's municipality exactly as a correction did
(course/service.py `apply_changes`), so settlement credits and bills it as before. Every
step is audited with the course's patient.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict

from sqlalchemy.exc import IntegrityError

from service.course import transfer_repository as repository
from service.course.schemas import (
    TransferDecisionIn,
    TransferIn,
    TransferOut,
    TransferSearch,
    TransferStatus,
)
from service.course.service import apply_changes, visible_course
from service.deps import Ctx
from service.domain.scope import Violation
from service.errors import Conflict, Forbidden, Invalid, NotFound
from service.kit.problem import ProblemCode
from service.kit.rows import from_row
from service.models import Course, CourseTransfer
from service.reference import repository as reference_repository


def _out(transfer: CourseTransfer, course: Course) -> TransferOut:
    return from_row(
        TransferOut,
        transfer,
        treatment_type=course.treatment_type,
        setting=course.setting,
        start_date=course.start_date,
        hospital_code=course.hospital_code,
    )


async def _present(
    ctx: Ctx, transfers: Sequence[CourseTransfer], courses: dict[uuid.UUID, Course]
) -> list[TransferOut]:
    """Transfers as the principal sees them; each read audited with its course's patient."""
    await ctx.audit_many(
        "course.transfer.read",
        "course_transfer",
        [(t.id, courses[t.course_id].patient_id) for t in transfers],
    )
    return [_out(t, courses[t.course_id]) for t in transfers]


async def _present_one(ctx: Ctx, transfer: CourseTransfer, course: Course) -> TransferOut:
    (out,) = await _present(ctx, [transfer], {course.id: course})
    return out


def _invalid(code: ProblemCode, message: str) -> Invalid:
    return Invalid(code, message, [Violation(code, "municipality_code", message)])


def _pending(transfer: CourseTransfer) -> Conflict:
    return Conflict(
        "transfer_pending",
        "a transfer of this course awaits the receiving municipality's answer",
        transfer_id=str(transfer.id),
    )


async def _audit(ctx: Ctx, action: str, transfer: CourseTransfer, course: Course) -> None:
    detail = {
        "transfer_id": str(transfer.id),
        "from": transfer.from_municipality_code,
        "to": transfer.to_municipality_code,
    }
    await ctx.audit(action, "course", course.id, course.patient_id, detail=detail)


async def _move(ctx: Ctx, transfer: CourseTransfer, course: Course, action: str) -> None:
    """The transfer takes effect: the course's municipality changes, as by a correction."""
    transfer.status = "accepted"
    transfer.decided_at = ctx.now
    transfer.decided_by = ctx.principal.client_id
    changes = {"municipality_code": transfer.to_municipality_code}
    await apply_changes(ctx, course, changes, transfer.reason, action)


async def propose_transfer(
    ctx: Ctx, course_id: uuid.UUID, body: TransferIn
) -> tuple[TransferOut, bool]:
    """The municipality that has the course proposes its move (in effect once the receiving
    one accepts); the region moves it at once. Returns (transfer, created); the same
    proposal again, while it waits, is a retry."""
    course = await visible_course(ctx, course_id, for_update=True)
    if course.status == "cancelled":
        raise Conflict("course_cancelled", "a cancelled course cannot be moved")
    target = body.municipality_code
    if target == course.municipality_code:
        raise _invalid("same_municipality", "the course is already in that municipality")
    if not await reference_repository.is_municipality(ctx.session, target):
        raise _invalid("unknown_municipality", "the municipality must be one of the region's 29")
    waiting = await repository.proposed_for(ctx.session, course.id)
    if waiting is not None:
        retry = (
            waiting.to_municipality_code == target
            and waiting.reason == body.reason
            and waiting.proposed_by == ctx.principal.client_id
        )
        if retry:
            return await _present_one(ctx, waiting, course), False
        raise _pending(waiting)
    by_region = ctx.principal.role == "region"
    transfer = CourseTransfer(
        id=uuid.uuid4(),
        course_id=course.id,
        from_municipality_code=course.municipality_code,
        to_municipality_code=target,
        status="proposed",
        reason=body.reason,
        proposed_at=ctx.now,
        proposed_by=ctx.principal.client_id,
    )
    try:
        async with ctx.session.begin_nested():
            ctx.session.add(transfer)
    except IntegrityError:
        # The unique index on waiting proposals: a concurrent proposal of the course won.
        winner = await repository.proposed_for(ctx.session, course.id)
        raise (
            _pending(winner)
            if winner is not None
            else Conflict("transfer_pending", "a transfer of this course awaits an answer")
        ) from None
    await _audit(ctx, "course.transfer.propose", transfer, course)
    if by_region:
        await _move(ctx, transfer, course, "course.transfer.region")
    return await _present_one(ctx, transfer, course), True


async def list_transfers(
    ctx: Ctx, criteria: TransferSearch, limit: int, offset: int
) -> list[TransferOut]:
    """The transfers the principal sent, received (or, the region, all) that match."""
    transfers = await repository.search(ctx.session, ctx.principal, criteria, limit, offset)
    await ctx.audit_search(
        "course.transfer.search", "course_transfer", asdict(criteria), len(transfers)
    )
    courses = await repository.courses_of(ctx.session, transfers)
    return await _present(ctx, transfers, courses)


async def _visible(ctx: Ctx, transfer_id: uuid.UUID) -> CourseTransfer:
    """The transfer, its row locked (a waiting lock: decisions are short transactions, and
    the one that waits then reads the decided transfer), or 404."""
    transfer = await repository.visible_transfer(
        ctx.session, ctx.principal, transfer_id, for_update=True
    )
    if transfer is None:
        raise NotFound("transfer_not_found", "no such transfer for this client")
    return transfer


def _not_pending(transfer: CourseTransfer) -> Conflict:
    return Conflict(
        "transfer_not_pending",
        f"the transfer is {transfer.status}; only a proposed transfer can be answered",
        transfer_status=transfer.status,
    )


def _receiver_only(ctx: Ctx, transfer: CourseTransfer) -> None:
    if ctx.principal.org_code != transfer.to_municipality_code:
        raise Forbidden(
            "not_receiving_municipality",
            "only the receiving municipality accepts or declines a transfer",
        )


async def _decided(
    ctx: Ctx, transfer: CourseTransfer, status: TransferStatus
) -> TransferOut | None:
    """None while the transfer waits; the transfer as it is when it already is `status` (a
    retry changes nothing); else 409."""
    if transfer.status == "proposed":
        return None
    if transfer.status == status:
        course = await repository.course_of(ctx.session, transfer)
        return await _present_one(ctx, transfer, course)
    raise _not_pending(transfer)


async def accept_transfer(ctx: Ctx, transfer_id: uuid.UUID) -> TransferOut:
    """The receiving municipality accepts: from now on the course (and its patient) is its."""
    transfer = await _visible(ctx, transfer_id)
    _receiver_only(ctx, transfer)
    if (done := await _decided(ctx, transfer, "accepted")) is not None:
        return done
    course = await repository.course_of(ctx.session, transfer)
    if course.status == "cancelled":
        raise Conflict("course_cancelled", "the course was cancelled while the transfer waited")
    await _audit(ctx, "course.transfer.accept", transfer, course)
    await _move(ctx, transfer, course, "course.transfer.accepted")
    return await _present_one(ctx, transfer, course)


async def decline_transfer(
    ctx: Ctx, transfer_id: uuid.UUID, body: TransferDecisionIn
) -> TransferOut:
    """The receiving municipality declines: the course stays where it is."""
    transfer = await _visible(ctx, transfer_id)
    _receiver_only(ctx, transfer)
    if (done := await _decided(ctx, transfer, "declined")) is not None:
        return done
    transfer.status = "declined"
    transfer.decided_at = ctx.now
    transfer.decided_by = ctx.principal.client_id
    transfer.decision_note = body.note
    course = await repository.course_of(ctx.session, transfer)
    await _audit(ctx, "course.transfer.decline", transfer, course)
    return await _present_one(ctx, transfer, course)


async def withdraw_transfer(ctx: Ctx, transfer_id: uuid.UUID) -> TransferOut:
    """The sending municipality takes its proposal back while it waits."""
    transfer = await _visible(ctx, transfer_id)
    if ctx.principal.org_code != transfer.from_municipality_code:
        raise Forbidden(
            "not_sending_municipality", "only the sending municipality withdraws a transfer"
        )
    if (done := await _decided(ctx, transfer, "withdrawn")) is not None:
        return done
    transfer.status = "withdrawn"
    transfer.decided_at = ctx.now
    transfer.decided_by = ctx.principal.client_id
    course = await repository.course_of(ctx.session, transfer)
    await _audit(ctx, "course.transfer.withdraw", transfer, course)
    return await _present_one(ctx, transfer, course)
