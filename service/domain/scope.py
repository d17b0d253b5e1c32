"""The agreement's scope for a referral (§1.4, §1.5) and its limits for a visit.

Each rule is a small function returning a violation code or None, so a refused referral
can list every rule it breaks at once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import time

from service.domain.vocabulary import TREATMENT_TYPES

MAX_VISITS_PER_DAY = 4
DAY_STARTS = time(7, 0)
DAY_ENDS = time(23, 0)
MAX_MINUTES_PER_ADMINISTRATION = 60


@dataclass(frozen=True)
class Violation:
    """One broken rule of a request, as a 422 problem lists it."""

    code: str
    """Stable, for clients to branch on (e.g. "too_many_visits_per_day")."""
    field: str
    message: str


@dataclass(frozen=True)
class ReferralFacts:
    """What the scope rules need to know of a referral, with the reference data it names."""

    treatment_type: str
    """As the hospital sent it: `treatment_type_covered` checks it."""
    visits_per_day: int
    administration_times: Sequence[time]
    minutes_per_administration: int
    first_dose_given_in_hospital: bool
    municipality_code: str
    hospital_code: str
    known_municipalities: Collection[str]
    known_hospitals: Collection[str]


def within_daytime(moment: time) -> bool:
    """§1.5: municipal IV treatment happens between 07:00 and 23:00 local time (inclusive)."""
    return DAY_STARTS <= moment <= DAY_ENDS


def treatment_type_covered(r: ReferralFacts) -> Violation | None:
    """§1.5: the agreement covers IV antibiotics, isotonic fluids and IV pumps."""
    if r.treatment_type not in TREATMENT_TYPES:
        return Violation(
            "treatment_type_not_covered",
            "treatment_type",
            f"treatment type must be one of {', '.join(TREATMENT_TYPES)}",
        )
    return None


def at_most_four_visits(r: ReferralFacts) -> Violation | None:
    """§1.5: more than 4 visits a day stays in hospital."""
    if r.visits_per_day > MAX_VISITS_PER_DAY:
        return Violation("too_many_visits_per_day", "visits_per_day", "at most 4 visits per day")
    return None


def administration_times_in_daytime(r: ReferralFacts) -> Violation | None:
    """§1.5: treatment between 23:00 and 07:00 stays in hospital."""
    if any(not within_daytime(t) for t in r.administration_times):
        return Violation(
            "administration_time_outside_hours",
            "administration_times",
            "every administration time must lie within 07:00-23:00",
        )
    return None


def administration_times_match_visits(r: ReferralFacts) -> Violation | None:
    """The plan must be consistent: one administration time per visit of the day."""
    if len(r.administration_times) != r.visits_per_day:
        return Violation(
            "administration_times_mismatch",
            "administration_times",
            "the number of administration times must equal visits_per_day",
        )
    return None


def administration_at_most_an_hour(r: ReferralFacts) -> Violation | None:
    """§1.5: an administration that keeps the nurse more than 60 minutes stays in hospital."""
    if r.minutes_per_administration > MAX_MINUTES_PER_ADMINISTRATION:
        return Violation(
            "administration_too_long",
            "minutes_per_administration",
            "a single administration may take at most 60 minutes",
        )
    return None


def first_antibiotic_dose_in_hospital(r: ReferralFacts) -> Violation | None:
    """§1.5: the first dose of IV antibiotics is given in hospital (risk of anaphylaxis)."""
    if r.treatment_type == "antibiotics" and not r.first_dose_given_in_hospital:
        return Violation(
            "first_dose_not_in_hospital",
            "first_dose_given_in_hospital",
            "the first dose of IV antibiotics must be given in hospital",
        )
    return None


def municipality_in_region(r: ReferralFacts) -> Violation | None:
    """§1.2: the parties are the 29 municipalities of the Capital Region."""
    if r.municipality_code not in r.known_municipalities:
        return Violation(
            "unknown_municipality",
            "municipality_code",
            "the municipality must be one of the region's 29",
        )
    return None


def hospital_in_region(r: ReferralFacts) -> Violation | None:
    """§2.2: referrals come from the region's hospitals."""
    if r.hospital_code not in r.known_hospitals:
        return Violation(
            "unknown_hospital", "hospital_code", "the hospital must be one of the region's"
        )
    return None


SCOPE_RULES: tuple[Callable[[ReferralFacts], Violation | None], ...] = (
    treatment_type_covered,
    at_most_four_visits,
    administration_times_in_daytime,
    administration_times_match_visits,
    administration_at_most_an_hour,
    first_antibiotic_dose_in_hospital,
    municipality_in_region,
    hospital_in_region,
)


def scope_violations(referral: ReferralFacts) -> list[Violation]:
    """Every scope rule the referral breaks, in a stable order (empty when in scope)."""
    return [v for rule in SCOPE_RULES if (v := rule(referral)) is not None]
