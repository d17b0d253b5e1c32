"""Use cases of objections (indsigelser).

A municipality objects to a line of one of its issued statements, or to one of its
courses, with a reason and a text. The region answers each: accepted (the fix is then a
correction or a cancellation of the course, which the next statement settles as an
adjustment: issued statements never change) or rejected, with a note. A municipality sees
its own objections only. Every step is audited with the course's patient.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from service.course.service import visible_course
from service.deps import Ctx
from service.domain.scope import Violation
from service.domain.vocabulary import EventType
from service.errors import Conflict, Invalid, NotFound
from service.events import outbox, payloads
from service.events.outbox import NewEvent
from service.models import Course, Objection
from service.objection import repository
from service.objection.schemas import ObjectionAnswerIn, ObjectionIn, ObjectionOut, ObjectionSearch


async def raise_objection(ctx: Ctx, body: ObjectionIn) -> tuple[ObjectionOut, bool]:
    """Record the objection (created False: a retry of an open one, returned as it is)."""
    if body.period is None and (body.line_kind is not None or body.line_period is not None):
        raise _not_on_statement(
            "line_kind", "a line is named with the period of its issued statement"
        )
    course = await visible_course(ctx, body.course_id)
    municipality = ctx.principal.org_code
    assert municipality is not None  # the route admits municipalities only
    if body.period is not None and not await repository.issued_line_exists(
        ctx.session, body.period, municipality, course.id, body.line_kind, body.line_period
    ):
        raise _not_on_statement(
            "period", "no such line of this course on your issued statement of that period"
        )
    objection = Objection(
        id=uuid.uuid4(),
        course_id=course.id,
        municipality_code=municipality,
        period=body.period,
        line_kind=body.line_kind,
        line_period=body.line_period,
        reason=body.reason,
        text=body.text,
        status="open",
        raised_at=ctx.now,
        raised_by=ctx.principal.client_id,
    )
    retried = await repository.same_open(ctx.session, objection)
    if retried is not None:
        return ObjectionOut.model_validate(retried), False
    ctx.session.add(objection)
    await ctx.session.flush()
    await _audit(ctx, "objection.raise", objection, course)
    await _announce(ctx, "objection.raised", objection, course)
    return ObjectionOut.model_validate(objection), True


async def answer_objection(
    ctx: Ctx, objection_id: uuid.UUID, body: ObjectionAnswerIn
) -> ObjectionOut:
    """The region's answer; the same answer again is a retry, another one a 409."""
    objection = await repository.visible(ctx.session, ctx.principal, objection_id, True)
    if objection is None:
        raise NotFound("objection_not_found", "no such objection for this client")
    if objection.status != "open":
        if (objection.status, objection.answer_note) == (body.decision, body.note):
            return ObjectionOut.model_validate(objection)
        raise Conflict(
            "objection_already_answered",
            "the objection was answered otherwise",
            objection_status=objection.status,
        )
    objection.status = body.decision
    objection.answer_note = body.note
    objection.answered_at = ctx.now
    objection.answered_by = ctx.principal.client_id
    await ctx.session.flush()
    course = await visible_course(ctx, objection.course_id)
    await _audit(ctx, "objection.answer", objection, course)
    await _announce(ctx, "objection.answered", objection, course)
    return ObjectionOut.model_validate(objection)


async def get_objection(ctx: Ctx, objection_id: uuid.UUID) -> ObjectionOut:
    objection = await repository.visible(ctx.session, ctx.principal, objection_id)
    if objection is None:
        raise NotFound("objection_not_found", "no such objection for this client")
    (out,) = await _present(ctx, [objection])
    return out


async def list_objections(
    ctx: Ctx, criteria: ObjectionSearch, limit: int = 1000, offset: int = 0
) -> list[ObjectionOut]:
    """The visible objections that match (a municipality: its own), each read audited."""
    found = await repository.search(ctx.session, ctx.principal, criteria, limit, offset)
    return await _present(ctx, found)


async def _present(ctx: Ctx, objections: Sequence[Objection]) -> list[ObjectionOut]:
    patients = await repository.patients_of(ctx.session, {o.course_id for o in objections})
    await ctx.audit_many(
        "objection.read", "objection", [(o.id, patients[o.course_id]) for o in objections]
    )
    return [ObjectionOut.model_validate(o) for o in objections]


async def _audit(ctx: Ctx, action: str, objection: Objection, course: Course) -> None:
    detail = {
        "course_id": str(course.id),
        "period": objection.period,
        "reason": objection.reason,
        "status": objection.status,
    }
    await ctx.audit(action, "objection", objection.id, course.patient_id, detail=detail)


async def _announce(ctx: Ctx, event_type: EventType, objection: Objection, course: Course) -> None:
    """The event of a raise or an answer, in its transaction (service.events.outbox)."""
    event = NewEvent(
        event_type, payloads.objection(objection, course.number), objection.municipality_code
    )
    await outbox.emit(ctx.session, ctx.now, [event])


def _not_on_statement(field: str, message: str) -> Invalid:
    return Invalid(
        "line_not_on_statement", message, [Violation("line_not_on_statement", field, message)]
    )
