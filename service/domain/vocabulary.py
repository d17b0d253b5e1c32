"""The closed sets of words of the service, each defined once.

Every set is one `Literal` alias (for the type checker, Pydantic and the ORM columns), and
where code lists or checks the words, one tuple derived from it; both in the order the
contract and the reports show them. Models, schemas, web filters, monitoring and the
simulation import them from here; Danish labels and the docs' glossary name the same words.
Roles are not here: only access control needs them (`service.access.auth`).
"""

from __future__ import annotations

from typing import Final, Literal, get_args

# §1.5: what the agreement covers. A later issue makes the types agreement data: keep them
# to these two lines, so that replacing them replaces everything derived from them.
TreatmentType = Literal["antibiotics", "fluids", "pump"]
TREATMENT_TYPES: Final[tuple[TreatmentType, ...]] = get_args(TreatmentType)

# §3.1: where a course is given, chosen when the municipality accepts the referral.
Setting = Literal["home", "clinic"]
SETTINGS: Final[tuple[Setting, ...]] = get_args(Setting)

ReferralStatus = Literal["pending", "accepted", "rejected", "withdrawn"]
REFERRAL_STATUSES: Final[tuple[ReferralStatus, ...]] = get_args(ReferralStatus)

# Why a municipality rejects a referral; "parenteral_nutrition_policy" is the service's
# own, automatic rejection (the municipality's policy on parenteral nutrition).
RejectionReason = Literal[
    "capacity",
    "competence",
    "home_unsuitable",
    "patient_declined",
    "parenteral_nutrition_policy",
    "other",
]
REJECTION_REASONS: Final[tuple[RejectionReason, ...]] = get_args(RejectionReason)

CourseStatus = Literal["active", "completed", "cancelled"]

# Why a course was completed (a cancellation has a free-text reason instead).
EndReason = Literal["completed", "readmitted", "switched_to_oral", "deceased", "other"]

# §1.5's limits a stored visit broke (see `service.domain.visits`).
Deviation = Literal[
    "outside_hours", "over_60_minutes", "over_4_visits_per_day", "outside_course_dates"
]
DEVIATIONS: Final[tuple[Deviation, ...]] = get_args(Deviation)

# §3.2: forløbstakst and dagstakst.
LineKind = Literal["course_fee", "day_fee"]
LINE_KINDS: Final[tuple[LineKind, ...]] = get_args(LineKind)

# Why a statement adjusts an earlier period (`service.domain.settlement.adjustment_reason`).
AdjustmentReason = Literal[
    "late_registration", "correction", "cancellation", "tariff_change", "index_change"
]

# Why a municipality objects to a billed line or a course (indsigelse).
ObjectionReason = Literal[
    "not_our_patient",
    "dates_wrong",
    "not_treated",
    "duplicate",
    "wrong_treatment_type",
    "other",
]
OBJECTION_REASONS: Final[tuple[ObjectionReason, ...]] = get_args(ObjectionReason)

# An objection is open until the region answers: accepted (the fix is a correction or a
# cancellation, settled as an adjustment) or rejected, each with a note.
ObjectionStatus = Literal["open", "accepted", "rejected"]
OBJECTION_STATUSES: Final[tuple[ObjectionStatus, ...]] = get_args(ObjectionStatus)

# What the outbox announces to finance systems (webhooks and `GET /api/v1/events`).
EventType = Literal["period.issued", "statement.issued", "objection.raised", "objection.answered"]
EVENT_TYPES: Final[tuple[EventType, ...]] = get_args(EventType)

# A webhook delivery is pending until the endpoint answers 2xx (delivered), or until it has
# failed for a day (dead: no more attempts; the event stays in the pull API).
DeliveryStatus = Literal["pending", "delivered", "dead"]
DELIVERY_STATUSES: Final[tuple[DeliveryStatus, ...]] = get_args(DeliveryStatus)
