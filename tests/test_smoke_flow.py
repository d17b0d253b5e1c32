"""The whole flow through HTTP: referral → visitation → course → visits → completion."""

from __future__ import annotations

from tests.support.api import MakeApi
from tests.support.factories import make_course, visit


async def test_referral_to_completed_course(api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    gentofte = await api("municipality", "157")
    course = await make_course(hospital, gentofte)
    assert course["status"] == "active"
    assert course["patient_cpr"] == "0101501234"

    r = await gentofte.post(
        f"/api/v1/courses/{course['id']}/visits", json=visit("2024-03-28T08:05:00+01:00")
    )
    assert r.status_code == 201, r.text
    assert r.json()["deviations"] == []

    r = await gentofte.post(
        f"/api/v1/courses/{course['id']}/complete",
        json={"end_date": "2024-04-05", "reason": "completed"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "completed"
    assert body["day_count"] == 9
    assert body["visit_count"] == 1
    assert body["last_administered_date"] == "2024-03-28"
