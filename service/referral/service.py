"""Use cases of referrals: create (idempotent), read, withdraw, accept, reject."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import asdict

from sqlalchemy.exc import IntegrityError

from service.access.patients import reveal_cprs
from service.course import repository as course_repository
from service.course.schemas import CourseOut
from service.course.service import course_out, refuse_far_start
from service.deps import Ctx
from service.domain.scope import ReferralFacts, Violation, scope_violations
from service.domain.vocabulary import ReferralStatus
from service.errors import Conflict, Forbidden, Invalid, NotFound
from service.kit.rows import from_row
from service.models import Course, Referral
from service.referral import repository
from service.referral.disclosure import ACTIVE_COURSE, ActiveCourseConflict
from service.referral.schemas import AcceptIn, ReferralIn, ReferralOut, ReferralSearch, RejectIn
from service.tariff.repository import version_valid_on


def _payload_hash(ctx: Ctx, body: ReferralIn) -> str:
    """A keyed hash of the canonical payload (it holds the CPR, so a plain hash would not do)."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return ctx.vault.keyed_hash(canonical.encode())


def _referral_out(
    r: Referral, cprs: dict[uuid.UUID, str], courses: dict[uuid.UUID, uuid.UUID]
) -> ReferralOut:
    return from_row(ReferralOut, r, patient_cpr=cprs.get(r.patient_id), course_id=courses.get(r.id))


async def _present(ctx: Ctx, referrals: Sequence[Referral]) -> list[ReferralOut]:
    """Referrals as the principal may see them; the read is audited per patient."""
    cprs = await reveal_cprs(
        ctx.session, ctx.vault, ctx.principal, [r.patient_id for r in referrals]
    )
    courses = await repository.course_ids_for(ctx.session, [r.id for r in referrals])
    await ctx.audit_many(
        "referral.read",
        "referral",
        [(r.id, r.patient_id) for r in referrals],
        {"cpr_shown": bool(cprs)},
    )
    return [_referral_out(r, cprs, courses) for r in referrals]


async def _present_one(ctx: Ctx, referral: Referral) -> ReferralOut:
    (out,) = await _present(ctx, [referral])
    return out


async def _same_or_conflict(ctx: Ctx, existing: Referral, payload_hash: str) -> ReferralOut:
    if existing.payload_hash != payload_hash:
        raise Conflict(
            "referral_conflict",
            "a referral with this external_ref from this hospital exists with other content",
            referral_id=str(existing.id),
        )
    return await _present_one(ctx, existing)


async def _scope_violations(ctx: Ctx, body: ReferralIn) -> list[Violation]:
    reference = await ctx.reference.get(ctx.session)
    violations = scope_violations(
        ReferralFacts(
            treatment_type=body.treatment_type,
            visits_per_day=body.visits_per_day,
            administration_times=body.administration_times,
            minutes_per_administration=body.minutes_per_administration,
            first_dose_given_in_hospital=body.first_dose_given_in_hospital,
            municipality_code=body.municipality_code,
            hospital_code=body.hospital_code,
            known_municipalities=reference.policies.keys(),
            known_hospitals=reference.hospitals,
        )
    )
    first_day = reference.first_tariff_day
    if first_day is None or body.expected_start_date < first_day:
        violations.append(
            Violation(
                "before_agreement",
                "expected_start_date",
                "the agreement (its first tariff version) does not cover this start date",
            )
        )
    return violations


async def create_referral(ctx: Ctx, body: ReferralIn) -> tuple[ReferralOut, bool]:
    """Create a referral; returns (referral, created). A retry with the same payload gives
    the stored referral; another payload under the same external_ref is a conflict."""
    if body.hospital_code != ctx.principal.org_code:
        raise Forbidden(
            "hospital_mismatch", "a hospital client posts referrals for its own hospital only"
        )
    payload_hash = _payload_hash(ctx, body)
    existing = await repository.by_external_ref(ctx.session, body.hospital_code, body.external_ref)
    if existing is not None:
        return await _same_or_conflict(ctx, existing, payload_hash), False

    violations = await _scope_violations(ctx, body)
    if violations:
        raise Invalid("out_of_scope", "the referral is outside the agreement's scope", violations)

    patient_id = await repository.patient_id_for(
        ctx.session,
        ctx.vault.lookup_hash(body.patient_cpr),
        ctx.vault.encrypt(body.patient_cpr),
        ctx.now,
    )
    await _refuse_if_active(ctx, patient_id, body.treatment_type, body.municipality_code)
    policy = (await ctx.reference.get(ctx.session)).policies[body.municipality_code]
    auto_reject = body.parenteral_nutrition and policy == "reject"
    # The referral as sent (its CPR number only as the patient's id), and its decision.
    values = body.model_dump(exclude={"patient_cpr"}) | {
        "id": uuid.uuid4(),
        "payload_hash": payload_hash,
        "patient_id": patient_id,
        "administration_times": [t.strftime("%H:%M") for t in body.administration_times],
        "status": "rejected" if auto_reject else "pending",
        "rejection_reason": "parenteral_nutrition_policy" if auto_reject else None,
        "rejection_note": None,
        "decided_at": ctx.now if auto_reject else None,
        "decided_by": None,
        "created_at": ctx.now,
        "created_by": ctx.principal.client_id,
    }
    if not await repository.insert_referral(ctx.session, values):
        # A concurrent identical request won the insert: answer as a retry.
        winner = await repository.by_external_ref(
            ctx.session, body.hospital_code, body.external_ref
        )
        assert winner is not None
        return await _same_or_conflict(ctx, winner, payload_hash), False
    # The hospital that sent the CPR sees it back; the write is the audited access.
    referral = Referral(**values)
    await ctx.audit("referral.create", "referral", referral.id, patient_id)
    return _referral_out(referral, {patient_id: body.patient_cpr}, {}), True


async def list_referrals(
    ctx: Ctx, criteria: ReferralSearch, limit: int, offset: int
) -> list[ReferralOut]:
    """The referrals the principal may see that match, oldest first (the search audited)."""
    referrals = await repository.search(ctx.session, ctx.principal, criteria, limit, offset)
    await ctx.audit_search("referral.search", "referral", asdict(criteria), len(referrals))
    return await _present(ctx, referrals)


async def _refuse_if_active(
    ctx: Ctx, patient_id: uuid.UUID, treatment_type: str, municipality_code: str
) -> None:
    """§2.2: one active course per patient, treatment type and municipality. The refusal
    reveals that the person is in treatment: it is an audited read (referral/disclosure.py),
    and it names the course only to the hospital whose referral created it and to the
    municipality that treats it, never to another hospital."""
    active = await repository.active_course(
        ctx.session, patient_id, treatment_type, municipality_code
    )
    if active is not None:
        principal = ctx.principal
        shown = (principal.role == "hospital" and principal.org_code == active.hospital_code) or (
            principal.role == "municipality" and principal.org_code == active.municipality_code
        )
        raise ActiveCourseConflict(active.id, active.patient_id, shown)


async def _visible(ctx: Ctx, referral_id: uuid.UUID, for_update: bool = False) -> Referral:
    """The referral, or 404. With `for_update`, a row lock that waits (not NOWAIT): every
    decision (accept, reject, withdraw) is a short transaction, and the one that waits then
    reads the decided referral and gets the right answer - the same course again for a
    retried accept (200), 409 referral_not_pending naming the status for a contrary one.
    NOWAIT would turn a client's own retry into a 409 "busy" it would have to retry again.
    """
    referral = await repository.visible_referral(
        ctx.session, ctx.principal, referral_id, for_update
    )
    if referral is None:
        raise NotFound("referral_not_found", "no such referral for this client")
    return referral


async def get_referral(ctx: Ctx, referral_id: uuid.UUID) -> ReferralOut:
    """The referral, if the principal may see it."""
    return await _present_one(ctx, await _visible(ctx, referral_id))


def _not_pending(referral: Referral) -> Conflict:
    return Conflict(
        "referral_not_pending",
        f"the referral is {referral.status}; only a pending referral can change",
        referral_status=referral.status,
    )


async def _decide(
    ctx: Ctx,
    referral: Referral,
    status: ReferralStatus,
    action: str,
    detail: dict[str, str] | None = None,
) -> None:
    """The referral leaves `pending`: who decided and when, audited as `action`."""
    referral.status = status
    referral.decided_at = ctx.now
    referral.decided_by = ctx.principal.client_id
    await ctx.audit(action, "referral", referral.id, referral.patient_id, detail=detail)


async def withdraw_referral(ctx: Ctx, referral_id: uuid.UUID) -> ReferralOut:
    """The hospital takes a pending referral back; withdrawing again changes nothing."""
    referral = await _visible(ctx, referral_id, for_update=True)
    if referral.status != "withdrawn":
        if referral.status != "pending":
            raise _not_pending(referral)
        await _decide(ctx, referral, "withdrawn", "referral.withdraw")
    return await _present_one(ctx, referral)


async def reject_referral(ctx: Ctx, referral_id: uuid.UUID, body: RejectIn) -> ReferralOut:
    """Visitation: the municipality declines, with a reason; the same rejection again
    changes nothing."""
    referral = await _visible(ctx, referral_id, for_update=True)
    already = referral.status == "rejected" and referral.rejection_reason == body.reason
    if not already:
        if referral.status != "pending":
            raise _not_pending(referral)
        referral.rejection_reason = body.reason
        referral.rejection_note = body.note
        await _decide(ctx, referral, "rejected", "referral.reject", {"reason": body.reason})
    return await _present_one(ctx, referral)


async def accept_referral(
    ctx: Ctx, referral_id: uuid.UUID, body: AcceptIn
) -> tuple[CourseOut, bool]:
    """Visitation: the municipality accepts, which starts a course (§2.1, §2.3)."""
    referral = await _visible(ctx, referral_id, for_update=True)
    if referral.status == "accepted":
        course = await repository.course_of(ctx.session, referral.id)
        if course.start_date == body.start_date and course.setting == body.setting:
            return await course_out(ctx, course), False
        raise Conflict(
            "referral_not_pending",
            "the referral was already accepted with other values",
            course_id=str(course.id),
        )
    if referral.status != "pending":
        raise _not_pending(referral)
    refuse_far_start(ctx, body.start_date)
    if await version_valid_on(ctx.session, body.start_date) is None:
        raise Invalid(
            "before_agreement",
            "the start date is before the agreement's first tariff version",
            [
                Violation(
                    "before_agreement", "start_date", "no tariff version covers this start date"
                )
            ],
        )
    await _refuse_if_active(
        ctx, referral.patient_id, referral.treatment_type, referral.municipality_code
    )
    course = Course(
        id=uuid.uuid4(),
        number=await course_repository.next_course_number(ctx.session, ctx.clock.today().year),
        referral_id=referral.id,
        patient_id=referral.patient_id,
        municipality_code=referral.municipality_code,
        hospital_code=referral.hospital_code,
        treatment_type=referral.treatment_type,
        setting=body.setting,
        start_date=body.start_date,
        status="active",
        created_at=ctx.now,
        created_by=ctx.principal.client_id,
        updated_at=ctx.now,
        revision=1,
    )
    try:
        async with ctx.session.begin_nested():
            ctx.session.add(course)
    except IntegrityError:
        # The unique index on active courses: a concurrent accept of another referral won.
        raise Conflict("active_course_exists", ACTIVE_COURSE) from None
    await course_repository.record_version(
        ctx.session, course, "created", ctx.now, ctx.principal.client_id
    )
    await _decide(ctx, referral, "accepted", "referral.accept")
    await ctx.audit("course.create", "course", course.id, course.patient_id)
    return await course_out(ctx, course), True
