"""Monitoring per quarter (agreement §4.1), as the API, the files and the charts read it.

Counts are integers. Shares are fractions 0-1 as decimal strings with 4 decimals, rounded
half up ("0.7500" = 75 %), and means are decimal strings with 2 decimals ("2.50"); both are
null when there is nothing to divide by, and the counts they come from are alongside, so a
chart can compute them exactly. Lists of `{key, count}` always hold every key, in a fixed
order, zeros included. Nothing here is about a single patient.

"In the quarter" is by Europe/Copenhagen local dates, first to last day inclusive.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from service.domain.vocabulary import TreatmentType
from service.kit.contract import QuarterText


class CountOut(BaseModel):
    key: str
    count: int


class ReferralFiguresOut(BaseModel):
    referred: int = Field(
        description="Referrals received in the quarter (stored on a local date in it), the "
        "automatically rejected included. Referrals refused at the door (422) are not stored "
        "and not counted. The outcomes below are the status of these referrals now: they "
        "add up to `referred`"
    )
    accepted: int = Field(description="Of those, accepted (visiteret), now")
    rejected: int = Field(description="Of those, rejected by the municipality or automatically")
    withdrawn: int = Field(description="Of those, withdrawn by the hospital before a decision")
    pending: int = Field(description="Of those, not decided yet")
    rejected_by_reason: list[CountOut] = Field(
        description="`rejected` by reason code: capacity, competence, home_unsuitable, "
        "patient_declined, parenteral_nutrition_policy (the automatic rejection), other"
    )


class TreatmentFiguresOut(BaseModel):
    treatment_type: TreatmentType
    referred: int = Field(description="Referrals received in the quarter of this type")
    accepted: int = Field(description="Of those, accepted now")
    courses_started: int = Field(
        description="Courses (not cancelled) of this type whose start date is in the quarter"
    )
    administrations: int = Field(
        description="Visits of this type's courses dated in the quarter with the dose given"
    )


class CourseFiguresOut(BaseModel):
    started: int = Field(
        description="Courses whose start date is in the quarter; cancelled ones never count"
    )
    started_by_setting: list[CountOut] = Field(
        description="`started` by the setting chosen at acceptance: home, clinic"
    )
    home_share: str | None = Field(description="Share of `started` in the home (fraction 0-1)")
    planned_visits_per_day: list[CountOut] = Field(
        description="`started` by the visits per day the hospital planned in the referral "
        "(keys 1-4)"
    )
    planned_visits_per_day_mean: str | None = Field(
        description="Mean planned visits per day over `started`"
    )
    completed: int = Field(
        description="Courses completed with an end date in the quarter (any end reason)"
    )
    length_days: list[CountOut] = Field(
        description="`completed` by length in days, start and end date included: 1-3, 4-6, "
        "7-14, 15-28, 29+"
    )
    length_days_median: int | None = Field(
        description="Median length of `completed` in days (nearest rank: the lower middle "
        "value for an even count)"
    )


class AdministrationFiguresOut(BaseModel):
    visits: int = Field(
        description="Visits dated (local date) in the quarter, of courses not cancelled, "
        "whether or not the dose was given"
    )
    administrations: int = Field(description="Of those, visits with the dose given")
    by_setting: list[CountOut] = Field(
        description="`administrations` by where the visit took place: home, clinic"
    )
    home_share: str | None = Field(
        description="Share of `administrations` given in the home (fraction 0-1)"
    )
    course_days: int = Field(
        description="Course-days (a course on one local date) in the quarter with at least "
        "one administration"
    )
    per_course_day: list[CountOut] = Field(
        description="`course_days` by administrations that day: 1, 2, 3, 4, 5+"
    )
    per_course_day_mean: str | None = Field(
        description="Actual administrations per course-day: `administrations` / `course_days`"
    )
    minutes_median: int | None = Field(
        description="Median duration of an administration in minutes (nearest rank)"
    )
    minutes_p90: int | None = Field(
        description="90th percentile of the duration of an administration in minutes "
        "(nearest rank: the value at rank ceil(0.9 x N))"
    )


class FiguresOut(BaseModel):
    referrals: ReferralFiguresOut
    by_treatment: list[TreatmentFiguresOut] = Field(description="antibiotics, fluids, pump")
    courses: CourseFiguresOut
    administrations: AdministrationFiguresOut
    deviations: list[CountOut] = Field(
        description="Visits dated in the quarter by deviation flag (a visit can have more "
        "than one): outside_hours (outside 07:00-23:00 local), over_60_minutes, "
        "over_4_visits_per_day (the 5th and later visit of a course's day), "
        "outside_course_dates (left outside the dates by a correction)"
    )


class MunicipalityFiguresOut(BaseModel):
    municipality_code: str
    municipality_name: str
    figures: FiguresOut


class MonitoringOut(BaseModel):
    """The §4.1 figures of one quarter. A municipality's figures count its referrals (the
    municipality they were sent to) and its courses and their visits (the course's
    municipality now, after any correction); the region's are everyone's together."""

    quarter: QuarterText
    first_day: date
    last_day: date
    scope: Literal["region", "municipality"] = Field(
        description="region: the region total and every municipality; municipality: one "
        "municipality's figures only"
    )
    computed_at: datetime = Field(
        description="When the figures were counted: they follow the data (a referral decided "
        "later, a late registration, a correction), so a past quarter can change"
    )
    region: FiguresOut | None = Field(
        description="The whole region (all municipalities together); null when one "
        "municipality's figures were asked for, or for a municipality's key"
    )
    municipalities: list[MunicipalityFiguresOut] = Field(
        description="Each municipality, by code (one, with `municipality_code` or for a "
        "municipality's key)"
    )
