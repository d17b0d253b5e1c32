"""Quarterly monitoring (§4.1) through HTTP on both databases: the figures of a small
scenario counted by hand, who sees what, the CSV and XLSX equal to the JSON, bad quarters.

The scenario, Q1 2024 (1 January - 31 March), Gentofte (157) and København (101):

    ref  mun  type         received     outcome                       course
    R1   157  antibiotics  2024-01-10   accepted                      10-18 Jan, home, 3/day
    R2   157  fluids       2024-01-10   accepted                      11-13 Jan, corrected to
                                                                      11-12 Jan, clinic, 1/day
    R3   157  pump         2024-01-10   rejected: capacity
    R4   157  fluids       2024-01-10   rejected: parenteral nutrition (automatic)
    R5   157  fluids       2024-01-10   withdrawn
    R6   157  antibiotics  2024-01-10   pending
    R9   157  pump         2024-01-10   accepted                      starts 2 Apr (Q2)
    R10  157  fluids       2023-12-20   accepted (received in Q4)     from 30 Mar, home, 2/day
    R7   101  pump         2024-01-10   accepted                      1-5 Feb, home, 1/day
    R8   101  antibiotics  2024-01-10   accepted                      30 Mar, cancelled

Visits (local time; minutes; * = dose not given):
    R1   10 Jan 08:00 30, 15:00 30, 23:00 45 (the last minute of the day: within hours)
         11 Jan 06:30 30 (outside hours), 12:00 70 (over 60), 16:00 20, 19:00 20,
                21:00 25 (the 5th that day: over 4)
         12 Jan 08:00 20*
    R2   11 Jan 10:00 15 clinic, 12 Jan 10:00 15 clinic, 13 Jan 10:00 15 home
         (after the correction outside the course dates)
    R10  31 Mar (summer time from 02:00) 22:30 30, 23:30 30 (outside hours: 21:30 UTC,
         which winter time would have put at 22:30 local); 1 Apr 09:00 30 (Q2)
    R7   1 Feb 09:00 40, 2 Feb 09:00 40
    R8   30 Mar 10:00 30, then the course is cancelled: not counted
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy import select

from service.domain.monitoring import Inputs, figures
from service.models import AuditEvent
from service.monitoring.files import monitoring_csv, monitoring_xlsx
from service.monitoring.schemas import MonitoringOut, MunicipalityFiguresOut
from service.monitoring.service import figures_out
from tests.support.api import Api, MakeApi
from tests.support.factories import at, make_referral, visit

GENTOFTE, KOEBENHAVN = "157", "101"


def cpr(n: int) -> str:
    return f"1501801{n:03d}"


async def referral(hospital: Api, municipality: str, kind: str, n: int, **kw: Any) -> str:
    per_day = kw.pop("visits_per_day", 1)
    times = ["08:00", "15:00", "22:00", "12:00"][:per_day]
    created = await make_referral(
        hospital,
        municipality_code=municipality,
        treatment_type=kind,
        patient_cpr=cpr(n),
        visits_per_day=per_day,
        administration_times=sorted(times),
        **kw,
    )
    return str(created["id"])


async def accept(municipality: Api, referral_id: str, start: str, setting: str) -> str:
    r = await municipality.post(
        f"/api/v1/referrals/{referral_id}/accept", json={"start_date": start, "setting": setting}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def visits(municipality: Api, course_id: str, *items: dict[str, Any]) -> None:
    r = await municipality.post(
        "/api/v1/visits/batch", json={"visits": [{**v, "course_id": course_id} for v in items]}
    )
    assert r.status_code == 200, r.text
    assert [item["http_status"] for item in r.json()["results"]] == [201] * len(items), r.text


async def post_ok(client: Api, url: str, body: dict[str, Any]) -> None:
    r = await client.post(url, json=body)
    assert r.status_code in (200, 201), r.text


@pytest.fixture
async def scenario(app: FastAPI, api: MakeApi) -> dict[str, Api]:
    hospital = await api("hospital", "HGH")
    gentofte = await api("municipality", GENTOFTE)
    kbh = await api("municipality", KOEBENHAVN)

    at(app, "2023-12-20T10:00:00+01:00")
    r10 = await referral(hospital, GENTOFTE, "fluids", 10, visits_per_day=2)

    at(app, "2024-01-10T07:30:00+01:00")
    r1 = await referral(hospital, GENTOFTE, "antibiotics", 1, visits_per_day=3)
    r2 = await referral(hospital, GENTOFTE, "fluids", 2)
    r3 = await referral(hospital, GENTOFTE, "pump", 3, visits_per_day=2)
    await referral(hospital, GENTOFTE, "fluids", 4, parenteral_nutrition=True)
    r5 = await referral(hospital, GENTOFTE, "fluids", 5)
    await referral(hospital, GENTOFTE, "antibiotics", 6)
    r9 = await referral(hospital, GENTOFTE, "pump", 9)
    r7 = await referral(hospital, KOEBENHAVN, "pump", 7)
    r8 = await referral(hospital, KOEBENHAVN, "antibiotics", 8)

    c1 = await accept(gentofte, r1, "2024-01-10", "home")
    c2 = await accept(gentofte, r2, "2024-01-11", "clinic")
    await post_ok(gentofte, f"/api/v1/referrals/{r3}/reject", {"reason": "capacity"})
    await post_ok(hospital, f"/api/v1/referrals/{r5}/withdraw", {})
    # A start date may lie at most a few days ahead of the day it is accepted.
    at(app, "2024-02-01T07:00:00+01:00")
    c7 = await accept(kbh, r7, "2024-02-01", "home")
    at(app, "2024-03-30T07:00:00+01:00")
    await accept(gentofte, r9, "2024-04-02", "home")
    c10 = await accept(gentofte, r10, "2024-03-30", "home")
    c8 = await accept(kbh, r8, "2024-03-30", "clinic")

    at(app, "2024-04-02T12:00:00+02:00")
    await visits(
        gentofte,
        c1,
        visit("2024-01-10T08:00:00+01:00", 30),
        visit("2024-01-10T15:00:00+01:00", 30),
        visit("2024-01-10T23:00:00+01:00", 45),
        visit("2024-01-11T06:30:00+01:00", 30),
        visit("2024-01-11T12:00:00+01:00", 70),
        visit("2024-01-11T16:00:00+01:00", 20),
        visit("2024-01-11T19:00:00+01:00", 20),
        visit("2024-01-11T21:00:00+01:00", 25),
        visit("2024-01-12T08:00:00+01:00", 20, administered=False),
    )
    await visits(
        gentofte,
        c2,
        visit("2024-01-11T10:00:00+01:00", 15, setting="clinic"),
        visit("2024-01-12T10:00:00+01:00", 15, setting="clinic"),
        visit("2024-01-13T10:00:00+01:00", 15, setting="home"),
    )
    await visits(
        gentofte,
        c10,
        visit("2024-03-31T22:30:00+02:00", 30),
        visit("2024-03-31T23:30:00+02:00", 30),
        visit("2024-04-01T09:00:00+02:00", 30),
    )
    await visits(
        kbh, c7, visit("2024-02-01T09:00:00+01:00", 40), visit("2024-02-02T09:00:00+01:00", 40)
    )
    await visits(kbh, c8, visit("2024-03-30T10:00:00+01:00", 30, setting="clinic"))

    done = {"reason": "completed"}
    await post_ok(gentofte, f"/api/v1/courses/{c1}/complete", {"end_date": "2024-01-18", **done})
    await post_ok(gentofte, f"/api/v1/courses/{c2}/complete", {"end_date": "2024-01-13", **done})
    await post_ok(
        gentofte,
        f"/api/v1/courses/{c2}/corrections",
        {"end_date": "2024-01-12", "reason": "the last visit was a check, not a treatment day"},
    )
    await post_ok(kbh, f"/api/v1/courses/{c7}/complete", {"end_date": "2024-02-05", **done})
    await post_ok(kbh, f"/api/v1/courses/{c8}/cancel", {"reason": "registered in error"})
    return {"hospital": hospital, "gentofte": gentofte, "kbh": kbh}


def counts(items: list[dict[str, Any]]) -> dict[str, int]:
    return {item["key"]: item["count"] for item in items}


def by_type(figures: dict[str, Any]) -> dict[str, tuple[int, int, int, int]]:
    return {
        t["treatment_type"]: (
            t["referred"],
            t["accepted"],
            t["courses_started"],
            t["administrations"],
        )
        for t in figures["by_treatment"]
    }


def reasons(capacity: int = 0, pn: int = 0) -> dict[str, int]:
    return {
        "capacity": capacity,
        "competence": 0,
        "home_unsuitable": 0,
        "patient_declined": 0,
        "parenteral_nutrition_policy": pn,
        "other": 0,
    }


def deviations(hours: int = 0, over_60: int = 0, over_4: int = 0, dates: int = 0) -> dict[str, int]:
    return {
        "outside_hours": hours,
        "over_60_minutes": over_60,
        "over_4_visits_per_day": over_4,
        "outside_course_dates": dates,
    }


# Counted by hand from the table in the module docstring.
GENTOFTE_FIGURES: dict[str, Any] = {
    "referrals": {
        "referred": 7,
        "accepted": 3,  # R1, R2, R9
        "rejected": 2,
        "withdrawn": 1,
        "pending": 1,
        "rejected_by_reason": reasons(capacity=1, pn=1),
    },
    "by_treatment": {
        "antibiotics": (2, 1, 1, 8),  # R1, R6; R1; R1; R1's 8 given doses
        "fluids": (3, 1, 2, 5),  # R2, R4, R5; R2; R2 and R10; 3 + 2
        "pump": (2, 1, 0, 0),  # R3, R9; R9; R9 starts in April
    },
    "courses": {
        "started": 3,  # R1, R2, R10
        "started_by_setting": {"home": 2, "clinic": 1},
        "home_share": "0.6667",
        "planned_visits_per_day": {"1": 1, "2": 1, "3": 1, "4": 0},
        "planned_visits_per_day_mean": "2.00",
        "completed": 2,  # R1 9 days, R2 2 days (after the correction)
        "length_days": {"1-3": 1, "4-6": 0, "7-14": 1, "15-28": 0, "29+": 0},
        "length_days_median": 2,  # nearest rank of (2, 9): rank 1
    },
    "administrations": {
        "visits": 14,
        "administrations": 13,
        "by_setting": {"home": 11, "clinic": 2},
        "home_share": "0.8462",  # 11/13
        "course_days": 6,  # R1 10 and 11 Jan (12 Jan had no dose), R2 x3, R10 31 Mar
        "per_course_day": {"1": 3, "2": 1, "3": 1, "4": 0, "5+": 1},
        "per_course_day_mean": "2.17",  # 13/6
        # 15 15 15 20 20 25 [30] 30 30 30 30 [45] 70: ranks 7 and ceil(11.7) = 12
        "minutes_median": 30,
        "minutes_p90": 45,
    },
    "deviations": deviations(hours=2, over_60=1, over_4=1, dates=1),
}
KOEBENHAVN_FIGURES: dict[str, Any] = {
    "referrals": {
        "referred": 2,
        "accepted": 2,  # R8 too: its course was cancelled later
        "rejected": 0,
        "withdrawn": 0,
        "pending": 0,
        "rejected_by_reason": reasons(),
    },
    "by_treatment": {
        "antibiotics": (1, 1, 0, 0),
        "fluids": (0, 0, 0, 0),
        "pump": (1, 1, 1, 2),
    },
    "courses": {
        "started": 1,
        "started_by_setting": {"home": 1, "clinic": 0},
        "home_share": "1.0000",
        "planned_visits_per_day": {"1": 1, "2": 0, "3": 0, "4": 0},
        "planned_visits_per_day_mean": "1.00",
        "completed": 1,
        "length_days": {"1-3": 0, "4-6": 1, "7-14": 0, "15-28": 0, "29+": 0},
        "length_days_median": 5,
    },
    "administrations": {
        "visits": 2,
        "administrations": 2,
        "by_setting": {"home": 2, "clinic": 0},
        "home_share": "1.0000",
        "course_days": 2,
        "per_course_day": {"1": 2, "2": 0, "3": 0, "4": 0, "5+": 0},
        "per_course_day_mean": "1.00",
        "minutes_median": 40,
        "minutes_p90": 40,
    },
    "deviations": deviations(),
}
REGION_FIGURES: dict[str, Any] = {
    "referrals": {
        "referred": 9,
        "accepted": 5,
        "rejected": 2,
        "withdrawn": 1,
        "pending": 1,
        "rejected_by_reason": reasons(capacity=1, pn=1),
    },
    "by_treatment": {
        "antibiotics": (3, 2, 1, 8),
        "fluids": (3, 1, 2, 5),
        "pump": (3, 2, 1, 2),
    },
    "courses": {
        "started": 4,
        "started_by_setting": {"home": 3, "clinic": 1},
        "home_share": "0.7500",
        "planned_visits_per_day": {"1": 2, "2": 1, "3": 1, "4": 0},
        "planned_visits_per_day_mean": "1.75",
        "completed": 3,
        "length_days": {"1-3": 1, "4-6": 1, "7-14": 1, "15-28": 0, "29+": 0},
        "length_days_median": 5,  # (2, 5, 9): rank 2
    },
    "administrations": {
        "visits": 16,
        "administrations": 15,
        "by_setting": {"home": 13, "clinic": 2},
        "home_share": "0.8667",
        "course_days": 8,
        "per_course_day": {"1": 5, "2": 1, "3": 1, "4": 0, "5+": 1},
        "per_course_day_mean": "1.88",  # 15/8 = 1.875, half up
        # 15 15 15 20 20 25 30 [30] 30 30 30 40 40 [45] 70: ranks 8 and ceil(13.5) = 14
        "minutes_median": 30,
        "minutes_p90": 45,
    },
    "deviations": deviations(hours=2, over_60=1, over_4=1, dates=1),
}
ZERO_FIGURES: dict[str, Any] = {
    "referrals": {
        "referred": 0,
        "accepted": 0,
        "rejected": 0,
        "withdrawn": 0,
        "pending": 0,
        "rejected_by_reason": reasons(),
    },
    "by_treatment": {"antibiotics": (0,) * 4, "fluids": (0,) * 4, "pump": (0,) * 4},
    "courses": {
        "started": 0,
        "started_by_setting": {"home": 0, "clinic": 0},
        "home_share": None,
        "planned_visits_per_day": {"1": 0, "2": 0, "3": 0, "4": 0},
        "planned_visits_per_day_mean": None,
        "completed": 0,
        "length_days": {"1-3": 0, "4-6": 0, "7-14": 0, "15-28": 0, "29+": 0},
        "length_days_median": None,
    },
    "administrations": {
        "visits": 0,
        "administrations": 0,
        "by_setting": {"home": 0, "clinic": 0},
        "home_share": None,
        "course_days": 0,
        "per_course_day": {"1": 0, "2": 0, "3": 0, "4": 0, "5+": 0},
        "per_course_day_mean": None,
        "minutes_median": None,
        "minutes_p90": None,
    },
    "deviations": deviations(),
}


def plain(figures: dict[str, Any]) -> dict[str, Any]:
    """A figures object of the API with its `{key, count}` lists as dicts, for comparing."""
    return {
        "referrals": {
            **figures["referrals"],
            "rejected_by_reason": counts(figures["referrals"]["rejected_by_reason"]),
        },
        "by_treatment": by_type(figures),
        "courses": {
            **figures["courses"],
            **{
                key: counts(figures["courses"][key])
                for key in ("started_by_setting", "planned_visits_per_day", "length_days")
            },
        },
        "administrations": {
            **figures["administrations"],
            **{
                key: counts(figures["administrations"][key])
                for key in ("by_setting", "per_course_day")
            },
        },
        "deviations": counts(figures["deviations"]),
    }


async def get_json(client: Api, url: str) -> dict[str, Any]:
    r = await client.get(url)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_figures_of_the_scenario_counted_by_hand(
    app: FastAPI, api: MakeApi, scenario: dict[str, Api]
) -> None:
    region = await api("region")
    out = await get_json(region, "/api/v1/monitoring/2024Q1")

    assert (out["quarter"], out["first_day"], out["last_day"]) == (
        "2024Q1",
        "2024-01-01",
        "2024-03-31",
    )
    assert out["scope"] == "region"
    assert out["computed_at"] == "2024-04-02T10:00:00Z"
    assert plain(out["region"]) == REGION_FIGURES
    rows = {m["municipality_code"]: m for m in out["municipalities"]}
    assert len(out["municipalities"]) == 29
    assert [m["municipality_code"] for m in out["municipalities"]] == sorted(rows)
    assert rows[GENTOFTE]["municipality_name"] == "Gentofte"
    assert plain(rows[GENTOFTE]["figures"]) == GENTOFTE_FIGURES
    assert plain(rows[KOEBENHAVN]["figures"]) == KOEBENHAVN_FIGURES
    for code, row in rows.items():
        if code not in (GENTOFTE, KOEBENHAVN):
            assert plain(row["figures"]) == ZERO_FIGURES, code

    # One municipality, asked for by the region: no region total.
    one = await get_json(region, f"/api/v1/monitoring/2024Q1?municipality_code={GENTOFTE}")
    assert one["region"] is None and one["scope"] == "region"
    assert [m["municipality_code"] for m in one["municipalities"]] == [GENTOFTE]
    assert plain(one["municipalities"][0]["figures"]) == GENTOFTE_FIGURES

    # The quarters around it: R10's referral (Q4 2023) and its April visit (Q2).
    q4 = await get_json(region, "/api/v1/monitoring/2023Q4")
    assert q4["region"]["referrals"]["referred"] == 1
    assert q4["region"]["courses"]["started"] == 0
    q2 = await get_json(region, f"/api/v1/monitoring/2024Q2?municipality_code={GENTOFTE}")
    g2 = q2["municipalities"][0]["figures"]
    assert (g2["referrals"]["referred"], g2["courses"]["started"]) == (0, 1)  # R9 starts 2 Apr
    assert (g2["administrations"]["visits"], g2["administrations"]["minutes_median"]) == (1, 30)


async def test_a_municipality_sees_only_its_own_figures(scenario: dict[str, Api]) -> None:
    gentofte = scenario["gentofte"]
    own = await get_json(gentofte, "/api/v1/monitoring/2024Q1")
    assert own["scope"] == "municipality" and own["region"] is None
    assert [m["municipality_code"] for m in own["municipalities"]] == [GENTOFTE]
    assert plain(own["municipalities"][0]["figures"]) == GENTOFTE_FIGURES
    same = await get_json(gentofte, f"/api/v1/monitoring/2024Q1?municipality_code={GENTOFTE}")
    assert same["municipalities"] == own["municipalities"]

    for url in (
        f"/api/v1/monitoring/2024Q1?municipality_code={KOEBENHAVN}",
        f"/api/v1/monitoring/2024Q1.csv?municipality_code={KOEBENHAVN}",
        f"/api/v1/monitoring/2024Q1.xlsx?municipality_code={KOEBENHAVN}",
    ):
        r = await gentofte.get(url)
        assert r.status_code == 404, r.text
        assert r.json()["code"] == "municipality_not_found"

    csv_text = (await gentofte.get("/api/v1/monitoring/2024Q1.csv")).content.decode("utf-8-sig")
    assert "København" not in csv_text and "Region i alt" not in csv_text


async def test_who_may_read_monitoring(api: MakeApi) -> None:
    region = await api("region")
    for url in ("/api/v1/monitoring/2024Q1", "/api/v1/monitoring/2024Q1.csv"):
        for role, org in (("hospital", "HGH"), ("admin", None)):
            r = await (await api(role, org)).get(url)
            assert r.status_code == 403, r.text
            assert r.json()["code"] == "role_not_allowed"
        assert (await region.get(url)).status_code == 200
        r = await region.get(url + "?municipality_code=999")
        assert r.status_code == 404 and r.json()["code"] == "municipality_not_found"
    r = await region.client.get("/api/v1/monitoring/2024Q1", headers={"Authorization": ""})
    assert r.status_code == 401


@pytest.mark.parametrize(
    "quarter", ["2024Q5", "2024Q0", "2024-Q1", "24Q1", "2024q1", "2024Q1x", "1999Q4", "Q1"]
)
async def test_a_bad_quarter_is_422_invalid_quarter(api: MakeApi, quarter: str) -> None:
    region = await api("region")
    for suffix in ("", ".csv", ".xlsx"):
        r = await region.get(f"/api/v1/monitoring/{quarter}{suffix}")
        assert r.status_code == 422, (quarter, suffix, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["code"] == "invalid_quarter"
        assert [(v["code"], v["field"]) for v in problem["violations"]] == [
            ("invalid_quarter", "quarter")
        ]


async def test_reading_is_audited_as_an_aggregate_read(app: FastAPI, api: MakeApi) -> None:
    region = await api("region")
    gentofte = await api("municipality", GENTOFTE)
    assert (await region.get("/api/v1/monitoring/2024Q1")).status_code == 200
    assert (await gentofte.get("/api/v1/monitoring/2024Q1.xlsx")).status_code == 200
    async with app.state.sessionmaker() as session:
        events = (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.object_type == "monitoring")
                .order_by(AuditEvent.id)
            )
        ).all()
    seen = [(e.action, e.role, e.object_id, e.patient_id, e.detail) for e in events]
    assert seen == [
        (
            "monitoring.read",
            "region",
            "2024Q1",
            None,
            {"scope": "region", "municipality_code": None, "format": "json"},
        ),
        (
            "monitoring.export",
            "municipality",
            f"2024Q1/{GENTOFTE}",
            None,
            {"scope": "municipality", "municipality_code": GENTOFTE, "format": "xlsx"},
        ),
    ]


# --- the files equal the JSON -------------------------------------------------------------


def expected_rows(out: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON as the files' rows: heading → value (ints; shares and means as Decimal)."""
    scoped = [("", "Region i alt", out["region"])] if out["region"] is not None else []
    scoped += [
        (m["municipality_code"], m["municipality_name"], m["figures"])
        for m in out["municipalities"]
    ]
    rows = []
    for code, name, f in scoped:
        p = plain(f)
        r, c, a = p["referrals"], p["courses"], p["administrations"]
        row: dict[str, Any] = {
            "Kommunekode": code,
            "Kommune": name,
            "Henviste": r["referred"],
            "Visiterede": r["accepted"],
            "Afviste": r["rejected"],
            "Tilbagekaldte": r["withdrawn"],
            "Afventer visitation": r["pending"],
            "Afvist: kapacitet": r["rejected_by_reason"]["capacity"],
            "Afvist: parenteral ernæring (kommunens politik)": r["rejected_by_reason"][
                "parenteral_nutrition_policy"
            ],
            "Startede forløb": c["started"],
            "Startede forløb: eget hjem": c["started_by_setting"]["home"],
            "Startede forløb: kommunal klinik": c["started_by_setting"]["clinic"],
            "Andel startede forløb i eget hjem": c["home_share"],
            "Planlagte besøg pr. dag, gennemsnit": c["planned_visits_per_day_mean"],
            "Afsluttede forløb": c["completed"],
            "Forløbslængde, median (dage)": c["length_days_median"],
            "Besøg": a["visits"],
            "Indgifter": a["administrations"],
            "Indgifter: eget hjem": a["by_setting"]["home"],
            "Andel indgifter i eget hjem": a["home_share"],
            "Forløbsdage med indgift": a["course_days"],
            "Indgifter pr. forløbsdag, gennemsnit": a["per_course_day_mean"],
            "Minutter pr. indgift, median": a["minutes_median"],
            "Minutter pr. indgift, 90. percentil": a["minutes_p90"],
            "Afvigelse: uden for kl. 07-23": p["deviations"]["outside_hours"],
            "Afvigelse: over 60 minutter": p["deviations"]["over_60_minutes"],
            "Afvigelse: over 4 besøg pr. dag": p["deviations"]["over_4_visits_per_day"],
            "Afvigelse: uden for forløbets datoer": p["deviations"]["outside_course_dates"],
        }
        for key, count in c["planned_visits_per_day"].items():
            row[f"Planlagt {key} besøg pr. dag"] = count
        for key, count in c["length_days"].items():
            row[f"Forløbslængde {key} dage"] = count
        for key, count in a["per_course_day"].items():
            row[f"Forløbsdage med {key} indgift(er)"] = count
        labels = {"antibiotics": "IV-antibiotika", "fluids": "IV-væske", "pump": "IV-pumpe"}
        for kind, (referred, accepted, started, given) in p["by_treatment"].items():
            label = labels[kind]
            row[f"Henviste {label}"] = referred
            row[f"Visiterede {label}"] = accepted
            row[f"Startede forløb {label}"] = started
            row[f"Indgifter {label}"] = given
        rows.append(
            {
                k: Decimal(v)
                if isinstance(v, str) and k.startswith(("Andel", "Planlagte", "Indgifter pr"))
                else v
                for k, v in row.items()
            }
        )
    return rows


def csv_rows(content: bytes) -> list[dict[str, Any]]:
    assert content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Danish Excel
    text = content.decode("utf-8-sig")
    assert "\r\n" in text
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=";")
    rows = []
    for raw in reader:
        row: dict[str, Any] = {}
        for heading, cell in raw.items():
            if heading in ("Kommunekode", "Kommune"):
                row[heading] = cell
            elif cell == "":
                row[heading] = None
            elif "," in cell:
                row[heading] = Decimal(cell.replace(",", "."))
            else:
                row[heading] = int(cell)
        rows.append(row)
    return rows


def xlsx_rows(content: bytes) -> list[dict[str, Any]]:
    wb = load_workbook(io.BytesIO(content))
    assert wb.sheetnames == ["Oversigt", "Nøgletal"]
    header, *body = list(wb["Nøgletal"].iter_rows(values_only=True))
    rows = []
    for values in body:
        row: dict[str, Any] = {}
        for heading, cell in zip(header, values, strict=True):
            assert isinstance(heading, str)
            if heading in ("Kommunekode", "Kommune"):
                row[heading] = cell or ""
            elif isinstance(cell, float):
                row[heading] = Decimal(str(cell))
            else:
                row[heading] = cell
        rows.append(row)
    return rows


def same(file_row: dict[str, Any], json_row: dict[str, Any]) -> None:
    for heading, value in json_row.items():
        got = file_row[heading]
        if isinstance(value, Decimal):
            assert got is not None and abs(Decimal(got) - value) < Decimal("0.000001"), heading
        else:
            assert got == value, (file_row["Kommune"], heading, got, value)


@pytest.mark.parametrize("query", ["", f"?municipality_code={GENTOFTE}"])
async def test_csv_and_xlsx_hold_the_json_figures(
    api: MakeApi, scenario: dict[str, Api], query: str
) -> None:
    region = await api("region")
    out = await get_json(region, f"/api/v1/monitoring/2024Q1{query}")
    want = expected_rows(out)
    assert len(want) == (30 if not query else 1)

    r = await region.get(f"/api/v1/monitoring/2024Q1.csv{query}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    name = "region" if not query else "157-Gentofte"
    assert r.headers["content-disposition"] == (
        f'attachment; filename="monitorering-2024Q1-{name}.csv"'
    )
    got = csv_rows(r.content)
    assert len(got) == len(want)
    for file_row, json_row in zip(got, want, strict=True):
        same(file_row, json_row)

    r = await region.get(f"/api/v1/monitoring/2024Q1.xlsx{query}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    got = xlsx_rows(r.content)
    assert len(got) == len(want)
    for file_row, json_row in zip(got, want, strict=True):
        same(file_row, json_row)
    # The same figures give the same bytes.
    again = await region.get(f"/api/v1/monitoring/2024Q1.xlsx{query}")
    assert again.content == r.content


# --- the renderers alone ------------------------------------------------------------------


def test_the_files_are_a_pure_function_of_the_figures() -> None:
    """Same model, same bytes; the workbook is stamped with `computed_at`, not the clock."""
    empty = figures_out(figures(Inputs()))
    out = MonitoringOut(
        quarter="2024Q1",
        first_day=date(2024, 1, 1),
        last_day=date(2024, 3, 31),
        scope="municipality",
        computed_at=datetime.fromisoformat("2024-04-02T12:00:00+02:00"),
        region=None,
        municipalities=[
            MunicipalityFiguresOut(
                municipality_code="219", municipality_name="Hillerød", figures=empty
            )
        ],
    )
    for render in (monitoring_csv, monitoring_xlsx):
        assert render(out) == render(out.model_copy(deep=True))
    with zipfile.ZipFile(io.BytesIO(monitoring_xlsx(out))) as archive:
        assert {info.date_time for info in archive.infolist()} == {(2024, 4, 2, 10, 0, 0)}
    (row,) = csv_rows(monitoring_csv(out))
    assert (row["Kommunekode"], row["Kommune"], row["Henviste"]) == ("219", "Hillerød", 0)
    assert (
        row["Andel indgifter i eget hjem"] is None and row["Minutter pr. indgift, median"] is None
    )
