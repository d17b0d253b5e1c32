"""Referrals through HTTP: scope, idempotency, policy, visitation, and who sees what."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import MakeApi
from tests.support.factories import CPR_A, CPR_B, make_course, make_referral, referral_payload

SCOPE_CASES: list[tuple[str, dict[str, Any]]] = [
    ("treatment_type_not_covered", {"treatment_type": "chemotherapy"}),
    (
        "too_many_visits_per_day",
        {
            "visits_per_day": 5,
            "administration_times": ["07:00", "10:00", "13:00", "16:00", "19:00"],
        },
    ),
    ("administration_time_outside_hours", {"administration_times": ["06:30", "15:00", "22:00"]}),
    ("administration_time_outside_hours", {"administration_times": ["08:00", "15:00", "23:30"]}),
    ("administration_times_mismatch", {"administration_times": ["08:00", "15:00"]}),
    ("administration_too_long", {"minutes_per_administration": 61}),
    ("first_dose_not_in_hospital", {"first_dose_given_in_hospital": False}),
    ("unknown_municipality", {"municipality_code": "999"}),
    ("before_agreement", {"expected_start_date": "2021-10-03"}),
]


@pytest.mark.parametrize(("code", "change"), SCOPE_CASES)
async def test_each_scope_rule_refuses_with_its_code(
    api: MakeApi, code: str, change: dict[str, Any]
) -> None:
    hospital = await api("hospital", "HGH")
    r = await hospital.post("/api/v1/referrals", json=referral_payload(**change))
    assert r.status_code == 422, r.text
    body = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert body["code"] == "out_of_scope"
    assert [v["code"] for v in body["violations"]] == [code]
    assert CPR_A not in r.text
    assert (await hospital.get("/api/v1/referrals")).json() == []


async def test_unknown_hospital_is_out_of_scope(api: MakeApi) -> None:
    hospital = await api("hospital", "XYZ")
    r = await hospital.post("/api/v1/referrals", json=referral_payload(hospital_code="XYZ"))
    assert r.status_code == 422
    assert [v["code"] for v in r.json()["violations"]] == ["unknown_hospital"]


async def test_every_violation_is_listed_at_once(api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    payload = referral_payload(
        treatment_type="antibiotics",
        visits_per_day=5,
        administration_times=["05:00", "08:00", "12:00", "16:00", "23:45"],
        minutes_per_administration=90,
        first_dose_given_in_hospital=False,
        municipality_code="998",
    )
    r = await hospital.post("/api/v1/referrals", json=payload)
    assert r.status_code == 422
    assert {v["code"] for v in r.json()["violations"]} == {
        "too_many_visits_per_day",
        "administration_time_outside_hours",
        "administration_too_long",
        "first_dose_not_in_hospital",
        "unknown_municipality",
    }


async def test_first_dose_rule_is_only_for_antibiotics(api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    referral = await make_referral(
        hospital, treatment_type="fluids", first_dose_given_in_hospital=False
    )
    assert referral["status"] == "pending"


@pytest.mark.parametrize(
    "cpr",
    [
        *("3201501234", "0113501234", "290221-1234", "01015012345", "abcdefghij", "0101-501234"),
        # Look-alike digits of 0101501234 (Arabic-Indic, full-width, Devanagari): each was
        # accepted as a different patient, past the rule of one active course (issue 12).
        "\u0660\u0661\u0660\u0661\u0665\u0660\u0661\u0662\u0663\u0664",
        "\uff10\uff11\uff10\uff11\uff15\uff10\uff11\uff12\uff13\uff14",
        "\u0966\u0967\u0966\u0967\u096b\u0966\u0967\u0968\u0969\u096a",
        "010150\uff11234",
    ],
)
async def test_invalid_cpr_is_refused_without_echo(api: MakeApi, cpr: str) -> None:
    hospital = await api("hospital", "HGH")
    r = await hospital.post("/api/v1/referrals", json=referral_payload(patient_cpr=cpr))
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_request"
    assert [v["field"] for v in r.json()["violations"]] == ["body.patient_cpr"]
    assert cpr not in r.text and cpr.replace("-", "") not in r.text


async def test_cpr_without_modulus_11_and_with_hyphen_is_accepted(api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    # 010150-1234 fails the old modulus-11 check; such numbers are valid since 2007.
    referral = await make_referral(hospital, patient_cpr="010150-1234")
    assert referral["patient_cpr"] == "0101501234"
    # 29 February in a leap year resolved by digit 7 (4 → 2000-2036): 2000-02-29.
    assert (await make_referral(hospital, patient_cpr="2902004000"))["status"] == "pending"


async def test_a_retry_returns_the_same_referral(api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    payload = referral_payload()
    first = await hospital.post("/api/v1/referrals", json=payload)
    assert first.status_code == 201
    second = await hospital.post("/api/v1/referrals", json=payload)
    assert second.status_code == 200
    assert second.json() == first.json()
    assert len((await hospital.get("/api/v1/referrals")).json()) == 1


async def test_the_same_external_ref_with_other_content_is_409(api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    payload = referral_payload()
    first = await hospital.post("/api/v1/referrals", json=payload)
    r = await hospital.post("/api/v1/referrals", json=payload | {"planned_days": 10})
    assert r.status_code == 409
    assert r.json()["code"] == "referral_conflict"
    assert r.json()["referral_id"] == first.json()["id"]
    # Another hospital may use the same external_ref: refs are per hospital.
    other = await api("hospital", "RH")
    assert (
        await other.post("/api/v1/referrals", json=payload | {"hospital_code": "RH"})
    ).status_code == 201


async def test_a_hospital_posts_for_itself_only(api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    r = await hospital.post("/api/v1/referrals", json=referral_payload(hospital_code="RH"))
    assert r.status_code == 403
    assert r.json()["code"] == "hospital_mismatch"


@pytest.mark.parametrize("role", ["municipality", "region", "admin"])
async def test_only_hospitals_post_referrals(api: MakeApi, role: str) -> None:
    client = await api(role, "157" if role == "municipality" else None)
    assert (await client.post("/api/v1/referrals", json=referral_payload())).status_code == 403


async def test_parenteral_nutrition_is_stored_and_rejected_by_policy(api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    r = await hospital.post(
        "/api/v1/referrals",
        json=referral_payload(parenteral_nutrition=True, treatment_type="fluids"),
    )
    assert r.status_code == 201
    assert r.json()["status"] == "rejected"
    assert r.json()["rejection_reason"] == "parenteral_nutrition_policy"
    admin = await api("admin")
    await admin.patch("/api/v1/municipalities/157", json={"parenteral_nutrition_policy": "accept"})
    accepted = await make_referral(
        hospital, parenteral_nutrition=True, treatment_type="fluids", patient_cpr=CPR_B
    )
    assert accepted["status"] == "pending"


async def test_an_active_course_of_the_same_type_blocks_a_new_referral(api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    gentofte = await api("municipality", "157")
    course = await make_course(hospital, gentofte)
    r = await hospital.post("/api/v1/referrals", json=referral_payload())
    assert r.status_code == 409
    assert r.json()["code"] == "active_course_exists"
    assert r.json()["course"] == f"/api/v1/courses/{course['id']}"
    # Another type, another municipality or another patient is fine.
    await make_referral(hospital, treatment_type="fluids")
    await make_referral(hospital, municipality_code="101")
    await make_referral(hospital, patient_cpr=CPR_B)
    # Once the course is completed, a new referral is possible.
    await gentofte.post(
        f"/api/v1/courses/{course['id']}/complete",
        json={"end_date": "2024-04-05", "reason": "completed"},
    )
    await make_referral(hospital)


async def test_withdraw_while_pending(api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    referral = await make_referral(hospital)
    r = await hospital.post(f"/api/v1/referrals/{referral['id']}/withdraw")
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert (await hospital.post(f"/api/v1/referrals/{referral['id']}/withdraw")).status_code == 200
    gentofte = await api("municipality", "157")
    r = await gentofte.post(
        f"/api/v1/referrals/{referral['id']}/accept",
        json={"start_date": "2024-03-28", "setting": "home"},
    )
    assert r.status_code == 409 and r.json()["code"] == "referral_not_pending"


async def test_withdraw_after_acceptance_is_409(api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    course = await make_course(hospital, await api("municipality", "157"))
    r = await hospital.post(f"/api/v1/referrals/{course['referral_id']}/withdraw")
    assert r.status_code == 409


async def test_accept_creates_a_course_and_a_retry_returns_it(api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    gentofte = await api("municipality", "157")
    referral = await make_referral(hospital)
    body = {"start_date": "2024-03-28", "setting": "clinic"}
    first = await gentofte.post(f"/api/v1/referrals/{referral['id']}/accept", json=body)
    assert first.status_code == 201
    course = first.json()
    assert (
        course["status"],
        course["setting"],
        course["treatment_type"],
        course["hospital_code"],
    ) == (
        "active",
        "clinic",
        "antibiotics",
        "HGH",
    )
    again = await gentofte.post(f"/api/v1/referrals/{referral['id']}/accept", json=body)
    assert again.status_code == 200 and again.json()["id"] == course["id"]
    other = await gentofte.post(
        f"/api/v1/referrals/{referral['id']}/accept", json=body | {"setting": "home"}
    )
    assert other.status_code == 409
    seen = (await hospital.get(f"/api/v1/referrals/{referral['id']}")).json()
    assert seen["status"] == "accepted" and seen["course_id"] == course["id"]


async def test_accept_before_the_agreement_is_422(api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    gentofte = await api("municipality", "157")
    referral = await make_referral(hospital)
    r = await gentofte.post(
        f"/api/v1/referrals/{referral['id']}/accept",
        json={"start_date": "2021-10-01", "setting": "home"},
    )
    assert r.status_code == 422 and r.json()["code"] == "before_agreement"


async def test_reject_with_reason(api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    gentofte = await api("municipality", "157")
    referral = await make_referral(hospital)
    r = await gentofte.post(
        f"/api/v1/referrals/{referral['id']}/reject",
        json={"reason": "capacity", "note": "no nurses"},
    )
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["rejection_reason"], r.json()["rejection_note"]) == (
        "rejected",
        "capacity",
        "no nurses",
    )
    assert (
        await gentofte.post(
            f"/api/v1/referrals/{referral['id']}/reject", json={"reason": "capacity"}
        )
    ).status_code == 200
    assert (
        await gentofte.post(f"/api/v1/referrals/{referral['id']}/reject", json={"reason": "other"})
    ).status_code == 409
    bad = await gentofte.post(
        f"/api/v1/referrals/{referral['id']}/reject", json={"reason": "because"}
    )
    assert bad.status_code == 422


async def test_organisations_see_only_their_own_referrals(api: MakeApi) -> None:
    hgh = await api("hospital", "HGH")
    rh = await api("hospital", "RH")
    gentofte = await api("municipality", "157")
    copenhagen = await api("municipality", "101")
    region = await api("region")
    mine = await make_referral(hgh)
    theirs = await make_referral(rh, municipality_code="101", patient_cpr=CPR_B)

    assert [r["id"] for r in (await hgh.get("/api/v1/referrals")).json()] == [mine["id"]]
    assert (await hgh.get(f"/api/v1/referrals/{theirs['id']}")).status_code == 404
    assert (await rh.post(f"/api/v1/referrals/{mine['id']}/withdraw")).status_code == 404
    assert [r["id"] for r in (await gentofte.get("/api/v1/referrals")).json()] == [mine["id"]]
    assert (await gentofte.get(f"/api/v1/referrals/{theirs['id']}")).status_code == 404
    accept = {"start_date": "2024-03-28", "setting": "home"}
    assert (
        await copenhagen.post(f"/api/v1/referrals/{mine['id']}/accept", json=accept)
    ).status_code == 404
    assert (
        await copenhagen.post(f"/api/v1/referrals/{mine['id']}/reject", json={"reason": "other"})
    ).status_code == 404
    # The filter cannot widen a municipality's view.
    assert (
        await gentofte.get("/api/v1/referrals", params={"municipality_code": "101"})
    ).json() == []
    assert len((await region.get("/api/v1/referrals")).json()) == 2
    assert [
        r["id"]
        for r in (await region.get("/api/v1/referrals", params={"municipality_code": "101"})).json()
    ] == [theirs["id"]]
    assert (await (await api("admin")).get("/api/v1/referrals")).status_code == 403


async def test_list_filters_by_status(api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    gentofte = await api("municipality", "157")
    pending = await make_referral(hospital)
    rejected = await make_referral(hospital, patient_cpr=CPR_B)
    await gentofte.post(f"/api/v1/referrals/{rejected['id']}/reject", json={"reason": "competence"})
    assert [
        r["id"]
        for r in (await gentofte.get("/api/v1/referrals", params={"status": "pending"})).json()
    ] == [pending["id"]]
    assert [
        r["id"]
        for r in (await gentofte.get("/api/v1/referrals", params={"status": "rejected"})).json()
    ] == [rejected["id"]]
    assert (
        await gentofte.get("/api/v1/referrals", params={"status": "nonsense"})
    ).status_code == 422


async def test_the_region_never_sees_cpr(api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    region = await api("region")
    referral = await make_referral(hospital)
    assert referral["patient_cpr"] == CPR_A
    r = await region.get(f"/api/v1/referrals/{referral['id']}")
    assert r.status_code == 200
    assert r.json()["patient_cpr"] is None
    assert CPR_A not in r.text
    assert CPR_A not in (await region.get("/api/v1/referrals")).text
