"""A refusal that tells its caller a person is in treatment (409 `active_course_exists`).

Such an answer is a read of patient data whether or not it names the course, so it is
audited like any read: one row for the course and its patient, written on the refusal's
way out (service.errors, `ServiceError.disclosed`), in a transaction of its own since the
request's is rolled back. Only the hospital whose referral created the course, and the
municipality that treats it, are told which course it is.
"""

from __future__ import annotations

import uuid

from service.access.audit import Disclosure
from service.errors import Conflict

ACTION = "course.conflict"
"""The audit action of an answer that revealed an active course."""

ACTIVE_COURSE = "the patient already has an active course of this type in this municipality"


class ActiveCourseConflict(Conflict):
    """§2.2 refused: the patient has an active course of this type in this municipality."""

    def __init__(self, course_id: uuid.UUID, patient_id: uuid.UUID, shown: bool) -> None:
        extra = {"course_id": str(course_id), "course": f"/api/v1/courses/{course_id}"}
        super().__init__("active_course_exists", ACTIVE_COURSE, **(extra if shown else {}))
        self.disclosed = Disclosure(
            ACTION,
            "course",
            course_id,
            patient_id,
            {"code": "active_course_exists", "course_shown": shown},
        )
