"""The simulation's assumptions: the shares and distributions of a plausible demo.

What is simulated, and the shares used (assumptions, not statistics):

- courses: `courses_per_year` (the agreement's estimate, §3.1: about 5,700 a year) × scale,
  spread over the days of the simulated months (a little more in winter, fewer starts at
  weekends) and over the 29 municipalities by population (populations.py);
- type mix antibiotics 60 %, fluids 25 %, pump 15 %; course lengths mostly within the
  included days (antibiotics and pump 6, fluids 3) with a tail of long courses;
- 1-4 visits a day at the referral's administration times (07-23) with a little jitter,
  half of the courses at home and half in a clinic (§3.1);
- about 3 % of referrals rejected by the municipality with a reason, a few parenteral-
  nutrition referrals (rejected by the municipalities' default policy), about 2 % of
  courses with a deviating visit (65 minutes, or at 23:20), 3 % registered late (1-3
  months after they ended), 2 % with a corrected end date after the month was issued,
  1 % cancelled (never started, or registered in error);
- each month issued a few days after it ends.
"""

from __future__ import annotations

import random

from service.domain.visits import OUTSIDE_HOURS, OVER_60_MINUTES
from service.domain.vocabulary import Deviation, EndReason, RejectionReason, TreatmentType

TYPE_MIX: dict[TreatmentType, int] = {"antibiotics": 60, "fluids": 25, "pump": 15}
END_REASON_SHARES: dict[EndReason, int] = {
    "completed": 82,
    "switched_to_oral": 9,
    "readmitted": 6,
    "deceased": 1,
    "other": 2,
}
REJECTION_SHARES: dict[RejectionReason, int] = {
    "capacity": 30,
    "competence": 15,
    "home_unsuitable": 20,
    "patient_declined": 25,
    "other": 10,
}
IV_ACCESS = {"PICC": 50, "Midline": 30, "PVK": 20}
# The deviations a course's one deviating visit is made to have: a visit at 23:20, or one
# of 65 minutes.
SIMULATED_DEVIATIONS: tuple[Deviation, ...] = (OUTSIDE_HOURS, OVER_60_MINUTES)
REJECTED_SHARE = 0.03
PARENTERAL_NUTRITION_SHARE = 0.004
LATE_SHARE = 0.03
CORRECTION_SHARE = 0.02
CANCEL_SHARE = 0.01
DEVIATION_SHARE = 0.02
DOSE_NOT_GIVEN_SHARE = 0.01
RECURRING_PATIENT_SHARE = 0.2

DEPARTMENTS: dict[TreatmentType, tuple[str, ...]] = {
    "antibiotics": (
        "Infektionsmedicinsk afd.",
        "Lungemedicinsk afd.",
        "Medicinsk afd.",
        "Ortopædkirurgisk afd.",
    ),
    "fluids": ("Geriatrisk afd.", "Medicinsk afd.", "Mave- og tarmkirurgisk afd."),
    "pump": ("Onkologisk afd.", "Hæmatologisk afd.", "Infektionsmedicinsk afd."),
}
ADMINISTRATION_TIMES: dict[int, tuple[tuple[str, ...], ...]] = {
    1: (("08:00",), ("09:00",), ("10:00",), ("12:00",), ("16:00",)),
    2: (("08:00", "20:00"), ("09:00", "21:00"), ("08:00", "16:00")),
    3: (("07:00", "15:00", "22:00"), ("08:00", "14:00", "21:00")),
    4: (("07:00", "12:00", "17:00", "22:00"), ("07:30", "12:30", "17:30", "22:30")),
}
REJECTION_NOTES: dict[RejectionReason, tuple[str, ...]] = {
    "capacity": ("Ingen ledig sygeplejekapacitet i perioden", "Klinikken er fuldt booket"),
    "competence": ("Pumpetypen kræver oplæring, som ikke er gennemført",),
    "home_unsuitable": ("Hjemmet egner sig ikke til steril tilberedning",),
    "patient_declined": ("Borgeren ønsker behandlingen på hospitalet",),
    "other": ("Henvisningen var ufuldstændig; hospitalet er kontaktet",),
}
CANCEL_REASONS = (
    "Behandlingen blev aldrig påbegyndt: borgeren blev genindlagt før første besøg",
    "Registreret ved en fejl: borgeren blev behandlet af hospitalets udgående team",
)


def course_length(rng: random.Random, treatment: TreatmentType) -> int:
    """Course length in days: mostly within the included days, a tail of long courses."""
    u = rng.random()
    if treatment == "antibiotics":
        if u < 0.80:
            return rng.choices((3, 4, 5, 6), weights=(15, 25, 25, 35))[0]
        return rng.randint(7, 14) if u < 0.95 else rng.randint(15, 30)
    if treatment == "fluids":
        if u < 0.85:
            return rng.choices((1, 2, 3), weights=(25, 40, 35))[0]
        return rng.randint(4, 7) if u < 0.97 else rng.randint(8, 14)
    if u < 0.80:
        return rng.randint(2, 6)
    return rng.randint(7, 14) if u < 0.95 else rng.randint(15, 28)


def visits_per_day(rng: random.Random, treatment: TreatmentType) -> int:
    """Visits a day the hospital plans (1-4; antibiotics are given most often)."""
    if treatment == "antibiotics":
        return rng.choices((1, 2, 3, 4), weights=(20, 35, 30, 15))[0]
    if treatment == "fluids":
        return rng.choices((1, 2), weights=(65, 35))[0]
    return rng.choices((1, 2), weights=(85, 15))[0]


def minutes_per_administration(rng: random.Random, treatment: TreatmentType) -> int:
    """Minutes one administration takes, as the referral plans it."""
    if treatment == "antibiotics":
        return rng.choices((20, 30, 45), weights=(30, 50, 20))[0]
    if treatment == "fluids":
        return rng.choice((20, 30))
    return rng.choice((15, 20, 30))
