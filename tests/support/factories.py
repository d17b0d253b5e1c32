"""Plain async factory functions for API tests (no shared state): referrals, courses,
visits, issues, and the service's clock moved on."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from tests.support.api import Api

_refs = itertools.count(1)
_cprs = itertools.count(1)

# Valid CPR numbers with real dates; 0101501234 does not pass modulus 11 and must be accepted.
CPR_A = "0101501234"
CPR_B = "1207821235"
CPR_C = "0202024000"


def fresh_cpr() -> str:
    """Distinct, date-valid CPR numbers, so fresh referrals never meet an active course."""
    n = next(_cprs)
    return f"{1 + n % 28:02d}{1 + n // 28 % 12:02d}{40 + n // 336 % 50:02d}{n % 10000:04d}"


def at(app: FastAPI, moment: str) -> None:
    """Move the service's clock."""
    app.state.clock.pinned = datetime.fromisoformat(moment)


def referral_payload(**overrides: Any) -> dict[str, Any]:
    """A valid referral from HGH to Gentofte (157); `overrides` replace fields."""
    payload: dict[str, Any] = {
        "external_ref": f"HGH-2024-{next(_refs):06d}-{uuid.uuid4().hex[:6]}",
        "hospital_code": "HGH",
        "department": "Infektionsmedicinsk afd.",
        "patient_cpr": CPR_A,
        "municipality_code": "157",
        "treatment_type": "antibiotics",
        "expected_start_date": "2024-03-28",
        "planned_days": 9,
        "visits_per_day": 3,
        "administration_times": ["08:00", "15:00", "22:00"],
        "minutes_per_administration": 30,
        "first_dose_given_in_hospital": True,
        "iv_access": "PICC",
        "parenteral_nutrition": False,
        "must_not_be_left_alone": False,
        "physician_contact": "+45 38 68 00 00",
    }
    payload.update(overrides)
    return payload


async def make_referral(hospital: Api, **overrides: Any) -> dict[str, Any]:
    """A referral posted by `hospital` (201), as the API returned it."""
    payload = referral_payload(hospital_code=hospital.org, **overrides)
    response = await hospital.post("/api/v1/referrals", json=payload)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def make_course(
    hospital: Api,
    municipality: Api,
    start_date: str = "2024-03-28",
    setting: str = "home",
    **overrides: Any,
) -> dict[str, Any]:
    """A referral from `hospital` accepted by `municipality`: the course (201)."""
    referral = await make_referral(hospital, municipality_code=municipality.org, **overrides)
    response = await municipality.post(
        f"/api/v1/referrals/{referral['id']}/accept",
        json={"start_date": start_date, "setting": setting},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def completed_course(
    hospital: Api, municipality: Api, start: str, end: str, treatment: str, cpr: str
) -> dict[str, Any]:
    """A course from `start`, completed on `end` (200)."""
    course = await make_course(
        hospital, municipality, start_date=start, treatment_type=treatment, patient_cpr=cpr
    )
    r = await municipality.post(
        f"/api/v1/courses/{course['id']}/complete", json={"end_date": end, "reason": "completed"}
    )
    assert r.status_code == 200, r.text
    return course


async def issue(region: Api, period: str, expected: int = 201) -> dict[str, Any]:
    """Issue `period` as `region`, expecting `expected` (201 made now, 200 made before)."""
    r = await region.post(f"/api/v1/settlements/{period}/issue")
    assert r.status_code == expected, r.text
    return dict(r.json())


def visit(
    started_at: str,
    minutes: int = 30,
    administered: bool = True,
    setting: str = "home",
    **extra: Any,
) -> dict[str, Any]:
    """A visit's JSON body with a new id."""
    return {
        "id": str(uuid.uuid4()),
        "started_at": started_at,
        "duration_minutes": minutes,
        "setting": setting,
        "administered": administered,
        **extra,
    }
