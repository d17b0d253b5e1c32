"""Plain async factory functions for API tests (no shared state)."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from tests.conftest import Api

_refs = itertools.count(1)

# Valid CPR numbers with real dates; 0101501234 does not pass modulus 11 and must be accepted.
CPR_A = "0101501234"
CPR_B = "1207821235"


def referral_payload(**overrides: Any) -> dict[str, Any]:
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
    referral = await make_referral(hospital, municipality_code=municipality.org, **overrides)
    response = await municipality.post(
        f"/api/v1/referrals/{referral['id']}/accept",
        json={"start_date": start_date, "setting": setting},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def visit(
    started_at: str,
    minutes: int = 30,
    administered: bool = True,
    setting: str = "home",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "started_at": started_at,
        "duration_minutes": minutes,
        "setting": setting,
        "administered": administered,
        **extra,
    }
