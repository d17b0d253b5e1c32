"""A refusal that tells its caller a person is in treatment (409 `active_course_exists`).

Such an answer is a read of patient data whether or not it names the course, so it is
audited like any read: one row for the course and its patient. The request's transaction
is rolled back with the refusal, so the row is written in a short transaction of its own,
after that rollback (as refused requests are, service/access/audit.py `record_denied`).
Only the hospital whose referral created the course, and the municipality that treats it,
are told which course it is.
"""

from __future__ import annotations

import uuid

from fastapi.responses import JSONResponse
from starlette.requests import Request

from service.access import audit
from service.access.auth import Principal
from service.errors import Conflict, problem

ACTION = "course.conflict"
"""The audit action of an answer that revealed an active course."""

ACTIVE_COURSE = "the patient already has an active course of this type in this municipality"


class ActiveCourseConflict(Conflict):
    """§2.2 refused: the patient has an active course of this type in this municipality."""

    def __init__(self, course_id: uuid.UUID, patient_id: uuid.UUID, shown: bool) -> None:
        extra = {"course_id": str(course_id), "course": f"/api/v1/courses/{course_id}"}
        super().__init__("active_course_exists", ACTIVE_COURSE, **(extra if shown else {}))
        self.course_id = course_id
        self.patient_id = patient_id
        self.shown = shown


async def answer_active_course(request: Request, exc: Exception) -> JSONResponse:
    """The 409, after its audit row (in its own transaction; if that fails, so does this)."""
    assert isinstance(exc, ActiveCourseConflict)
    principal: Principal | None = getattr(request.state, "principal", None)
    async with request.app.state.sessionmaker() as session:
        await audit.record(
            session,
            principal,
            request.app.state.clock.now(),
            ACTION,
            "course",
            exc.course_id,
            exc.patient_id,
            {"code": exc.code, "course_shown": exc.shown},
        )
        await session.commit()
    return problem(exc.status, exc.code, exc.title, exc.detail, request, **exc.extra)
