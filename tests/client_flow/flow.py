"""The whole flow through a client generated from contracts/openapi.json, as a hospital
integration would write it: referral → accept → visits → complete → statement → issue →
downloads, and the errors on the way as typed problems.

Run by tests/test_generated_client.py, after mypy --strict has checked it against the
generated package (`ivsettle_client`):

    python flow.py BASE_URL HOSPITAL_KEY MUNICIPALITY_KEY REGION_KEY CONTROLLER_KEY CPR

Every step asserts what it got; a failure exits non-zero with the step's message.
"""

from __future__ import annotations

import re
import sys
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from ivsettle_client import AuthenticatedClient
from ivsettle_client.api.courses import complete_course
from ivsettle_client.api.referrals import accept_referral, create_referral
from ivsettle_client.api.settlement import (
    approve_period,
    get_statement,
    get_statement_file,
    issue_period,
)
from ivsettle_client.api.visits import record_visit_batch
from ivsettle_client.models import (
    AcceptIn,
    AcceptInSetting,
    ApprovalOut,
    BatchVisitIn,
    BatchVisitInSetting,
    CompleteIn,
    CompleteInReason,
    CourseOut,
    GetStatementFileFmt,
    Problem,
    ProblemCode,
    ReferralIn,
    ReferralOut,
    RegionSummaryOut,
    StatementOut,
    VisitBatchIn,
    VisitBatchOut,
)
from ivsettle_client.types import File

MONEY = re.compile(r"^-?\d+\.\d{2}$")  # the contract's Money pattern
LOCAL = ZoneInfo("Europe/Copenhagen")
START = date(2024, 3, 4)
DAYS = 5
PERIOD = "2024-03"
MUNICIPALITY = "157"


def referral(cpr: str, external_ref: str, planned_days: int = DAYS) -> ReferralIn:
    return ReferralIn(
        external_ref=external_ref,
        hospital_code="HGH",
        patient_cpr=cpr,
        municipality_code=MUNICIPALITY,
        treatment_type="antibiotics",
        expected_start_date=START,
        planned_days=planned_days,
        visits_per_day=1,
        administration_times=["08:00"],
        minutes_per_administration=30,
        first_dose_given_in_hospital=True,
        parenteral_nutrition=False,
        must_not_be_left_alone=False,
    )


def problem_of(answer: object, code: ProblemCode) -> Problem:
    assert isinstance(answer, Problem), f"expected a problem {code.value}, got {answer!r}"
    assert answer.code is code, (answer.code, code)
    return answer


def main(
    base_url: str,
    hospital_key: str,
    municipality_key: str,
    region_key: str,
    controller_key: str,
    cpr: str,
) -> None:
    hospital = AuthenticatedClient(base_url=base_url, token=hospital_key)
    municipality = AuthenticatedClient(base_url=base_url, token=municipality_key)
    region = AuthenticatedClient(base_url=base_url, token=region_key)
    controller = AuthenticatedClient(base_url=base_url, token=controller_key)
    external_ref = f"HGH-{uuid.uuid4().hex[:12]}"

    # The hospital refers; the same reference with other content is a typed 409.
    created = create_referral.sync(client=hospital, body=referral(cpr, external_ref))
    assert isinstance(created, ReferralOut), created
    conflict = create_referral.sync(client=hospital, body=referral(cpr, external_ref, DAYS + 1))
    assert problem_of(conflict, ProblemCode.REFERRAL_CONFLICT).referral_id == str(created.id)

    # The municipality accepts, gives a dose a day, and completes the course.
    course = accept_referral.sync(
        created.id,
        client=municipality,
        body=AcceptIn(setting=AcceptInSetting.HOME, start_date=START),
    )
    assert isinstance(course, CourseOut), course
    visits = [
        BatchVisitIn(
            course_id=course.id,
            id=uuid.uuid4(),
            started_at=datetime.combine(START + timedelta(days=day), time(8, 5), LOCAL),
            duration_minutes=30,
            setting=BatchVisitInSetting.HOME,
            administered=True,
        )
        for day in range(DAYS)
    ]
    batch = record_visit_batch.sync(client=municipality, body=VisitBatchIn(visits=visits))
    assert isinstance(batch, VisitBatchOut) and batch.created == DAYS, batch
    again = record_visit_batch.sync(client=municipality, body=VisitBatchIn(visits=visits))
    assert isinstance(again, VisitBatchOut) and again.unchanged == DAYS, again  # a retry
    completed = complete_course.sync(
        course.id,
        client=municipality,
        body=CompleteIn(
            end_date=START + timedelta(days=DAYS - 1), reason=CompleteInReason.COMPLETED
        ),
    )
    assert isinstance(completed, CourseOut), completed

    # Region finance reads the draft: money is the declared decimal string, lines add up.
    draft = get_statement.sync(PERIOD, MUNICIPALITY, client=region)
    assert isinstance(draft, StatementOut), draft
    assert MONEY.fullmatch(draft.total), draft.total
    ours = [line for line in draft.lines if line.course_id == course.id]
    assert ours, "the course is billed in its month"
    assert sum(Decimal(line.amount) for line in draft.lines) == Decimal(draft.total)

    # Four eyes: not issued before an approval; the controller approves, finance issues.
    refused = issue_period.sync(PERIOD, client=region)
    problem_of(refused, ProblemCode.APPROVAL_REQUIRED)
    approval = approve_period.sync(PERIOD, client=controller)
    assert isinstance(approval, ApprovalOut) and len(approval.statements) == 29, approval

    # Issued, then downloaded as typed files.
    issued = issue_period.sync(PERIOD, client=region)
    assert isinstance(issued, RegionSummaryOut), issued
    signatures = {
        GetStatementFileFmt.PDF: b"%PDF",
        GetStatementFileFmt.XLSX: b"PK",
        GetStatementFileFmt.CSV: "\ufeff".encode(),  # UTF-8 with a BOM, for Excel
    }
    for fmt, magic in signatures.items():
        file = get_statement_file.sync(PERIOD, MUNICIPALITY, fmt, client=region)
        assert isinstance(file, File), (fmt, file)
        content = file.payload.read()
        assert content.startswith(magic) and len(content) > 100, fmt

    # A wrong key, and a role that may not read statements: typed problems too.
    stranger = AuthenticatedClient(base_url=base_url, token="not-a-key")
    problem_of(
        get_statement.sync(PERIOD, MUNICIPALITY, client=stranger), ProblemCode.INVALID_API_KEY
    )
    problem_of(
        get_statement.sync(PERIOD, MUNICIPALITY, client=hospital), ProblemCode.ROLE_NOT_ALLOWED
    )
    print("flow ok:", draft.total, "kr.")


if __name__ == "__main__":
    main(*sys.argv[1:7])
