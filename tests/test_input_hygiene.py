"""What a client writes, refused at the door (issue 12, items 5, 6 and 11), on both databases.

- A NUL character anywhere (a body's field, a query, a path segment, a header) is a 422
  `invalid_request`: PostgreSQL answered 500 with a traceback, SQLite stored it.
- A CPR-shaped number in any free text is a 422 naming the field and never the number: it
  would be shown verbatim to the region. Ordinary text (phone numbers, references) passes.
- Strict types and bounds: no `"yes"` for true, no epoch for a time, no string or float for
  a count, no duplicate administration time, no given dose in 0 minutes, a price index of
  1-9999.9999; the OpenAPI document shows the bounds.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from service.kit.contract import PRICE_INDEX_PATTERN
from tests.support.api import Api, MakeApi
from tests.support.factories import (
    fresh_cpr,
    make_course,
    make_referral,
    referral_payload,
    visit,
)
from tests.support.tariffs import tariff_2027

API = "/api/v1"
CPR_TEXTS = ["Ring til pt. 0101501234", "pt. 010150-1234", "cpr0101501234"]
"""CPR-shaped numbers in free text (all of CPR_A, a test patient's number)."""


@dataclass
class Parties:
    hospital: Api
    municipality: Api
    region: Api
    admin: Api


@pytest.fixture
async def parties(api: MakeApi) -> Parties:
    return Parties(
        await api("hospital", "HGH"),
        await api("municipality", "157"),
        await api("region"),
        await api("admin"),
    )


Send = Callable[[Parties, Any], Awaitable[httpx.Response]]


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """`body` with the field at dotted `path` set to `value`."""
    body = copy.deepcopy(body)
    *parents, last = path.split(".")
    target = body
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value
    return body


def referral_field(field: str) -> Send:
    async def send(p: Parties, value: Any) -> httpx.Response:
        payload = referral_payload(patient_cpr=fresh_cpr(), **{field: value})
        return await p.hospital.post(f"{API}/referrals", json=payload)

    return send


def reject_note() -> Send:
    async def send(p: Parties, value: Any) -> httpx.Response:
        referral = await make_referral(p.hospital, patient_cpr=fresh_cpr())
        return await p.municipality.post(
            f"{API}/referrals/{referral['id']}/reject", json={"reason": "other", "note": value}
        )

    return send


def course_body(action: str, body: dict[str, Any], field: str) -> Send:
    async def send(p: Parties, value: Any) -> httpx.Response:
        course = await make_course(p.hospital, p.municipality, patient_cpr=fresh_cpr())
        return await p.municipality.post(
            f"{API}/courses/{course['id']}/{action}", json=_set(body, field, value)
        )

    return send


def tariff_field(field: str) -> Send:
    async def send(p: Parties, value: Any) -> httpx.Response:
        return await p.admin.post(f"{API}/tariffs", json=_set(tariff_2027(), field, value))

    return send


COMPLETE = {"end_date": "2024-04-02", "reason": "completed", "note": "ok"}
CORRECTION = {"start_date": "2024-03-29", "reason": "ok"}

# Every free text a client writes (the *In schemas), by route family: referrals, visitation,
# courses, tariffs. (Visits and monitoring take no free text: their strings are closed sets.)
FREE_TEXT: dict[str, Send] = {
    "referrals: department": referral_field("department"),
    "referrals: physician_contact": referral_field("physician_contact"),
    "referrals: iv_access": referral_field("iv_access"),
    "referrals: external_ref": referral_field("external_ref"),
    "visitation: reject note": reject_note(),
    "courses: complete note": course_body("complete", COMPLETE, "note"),
    "courses: cancel reason": course_body("cancel", {"reason": "ok"}, "reason"),
    "courses: correction reason": course_body("corrections", CORRECTION, "reason"),
    "tariffs: name": tariff_field("name"),
    "tariffs: payer.name": tariff_field("payer.name"),
    "tariffs: sources": tariff_field("sources.rates"),
}
FIELD_OF = {
    "referrals: department": "body.department",
    "referrals: physician_contact": "body.physician_contact",
    "referrals: iv_access": "body.iv_access",
    "referrals: external_ref": "body.external_ref",
    "visitation: reject note": "body.note",
    "courses: complete note": "body.note",
    "courses: cancel reason": "body.reason",
    "courses: correction reason": "body.reason",
    "tariffs: name": "body.name",
    "tariffs: payer.name": "body.payer.name",
    "tariffs: sources": "body.sources.rates",
}
# Stored codes that are no free text but reached the database as given.
NUL_CODES: dict[str, tuple[Send, str]] = {
    "referrals: municipality_code": (referral_field("municipality_code"), "1\x005"),
    "referrals: hospital_code": (referral_field("hospital_code"), "HGH\x00"),
    "courses: correction municipality_code": (
        course_body("corrections", CORRECTION, "municipality_code"),
        "1\x005",
    ),
}


def assert_refused(r: httpx.Response, field: str, *, not_echoed: str = "") -> None:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "invalid_request", body
    named = [v["field"] for v in body["violations"]]
    assert any(f == field or f.startswith(f"{field}.") for f in named), named
    if not_echoed:
        assert not_echoed not in r.text
        assert not_echoed.replace("-", "") not in r.text


# The external reference's pattern (printable ASCII) refused a NUL already.
@pytest.mark.parametrize("case", [case for case in FREE_TEXT if case != "referrals: external_ref"])
async def test_a_nul_in_free_text_is_refused(parties: Parties, case: str) -> None:
    assert_refused(await FREE_TEXT[case](parties, "Infektions\x00medicin"), FIELD_OF[case])


@pytest.mark.parametrize("case", NUL_CODES)
async def test_a_nul_in_a_stored_code_is_refused(parties: Parties, case: str) -> None:
    send, value = NUL_CODES[case]
    field = "body." + case.rsplit(" ", 1)[-1]
    assert_refused(await send(parties, value), field)


@pytest.mark.parametrize("text", CPR_TEXTS)
@pytest.mark.parametrize("case", FREE_TEXT)
async def test_a_cpr_number_in_free_text_is_refused_naming_the_field(
    parties: Parties, case: str, text: str
) -> None:
    value = text.replace(" ", "-") if case == "referrals: external_ref" else text
    r = await FREE_TEXT[case](parties, value)
    assert_refused(r, FIELD_OF[case], not_echoed="010150-1234")
    assert "CPR" in next(v["message"] for v in r.json()["violations"])


@pytest.mark.parametrize(
    "text",
    [
        "+45 38 68 00 00",  # a Danish phone number: 8 digits
        "+4538680000",  # with the country code: 10 digits, but day 45
        "38680000",
        "1234567890",  # 10 digits, no date (month 34)
        "Afsnit 7, lokal 3868 0000, uge 12 2024-03-28",
        "01015012345",  # 11 digits: no CPR number
    ],
)
@pytest.mark.parametrize(
    "case", ["referrals: department", "referrals: physician_contact", "courses: cancel reason"]
)
async def test_ordinary_text_with_numbers_passes(parties: Parties, case: str, text: str) -> None:
    r = await FREE_TEXT[case](parties, text)
    assert r.status_code in (200, 201), r.text


@pytest.mark.parametrize("ref", ["EPJ-2024-000123", "HGH-2024-0000000001", "SP-1234567890"])
async def test_ordinary_external_refs_pass(parties: Parties, ref: str) -> None:
    r = await FREE_TEXT["referrals: external_ref"](parties, ref)
    assert r.status_code == 201, r.text


# --- NUL in the query, the path and the headers: one place for every route -----------------

NUL_REQUESTS: list[tuple[str, str, str, str, dict[str, Any] | None, str]] = [
    # (route family, caller, method, url, body, the field the problem names)
    ("referrals", "hospital", "GET", f"{API}/referrals?municipality_code=1%0057", None,
     "query.municipality_code"),
    ("courses", "region", "GET", f"{API}/courses?municipality_code=1%0057", None,
     "query.municipality_code"),
    ("monitoring", "region", "GET", f"{API}/monitoring/2024Q1?municipality_code=1%0057", None,
     "query.municipality_code"),
    ("tariffs", "admin", "GET", f"{API}/tariffs?name=%00", None, "query.name"),
    ("municipalities", "admin", "PATCH", f"{API}/municipalities/1%0057",
     {"parenteral_nutrition_policy": "accept"}, "path"),
    ("settlements", "region", "GET", f"{API}/settlements/2024-03/statements/1%0057", None,
     "path"),
    ("web pages", "hospital", "GET", "/perioder/2024-03/kommuner/1%0057", None, "path"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("family", "role", "method", "url", "body", "field"),
    NUL_REQUESTS,
    ids=[case[0] for case in NUL_REQUESTS],
)
async def test_a_nul_in_a_query_or_path_is_refused(
    parties: Parties,
    family: str,
    role: str,
    method: str,
    url: str,
    body: dict[str, Any] | None,
    field: str,
) -> None:
    client: Api = getattr(parties, role)
    r = await client.client.request(method, url, json=body)
    assert_refused(r, field)
    # Not echoed either, not even escaped: the path's segment with it is masked.
    assert "\\u0000" not in r.text and "\x00" not in r.text


async def test_a_nul_in_visits_query_and_a_stored_header_is_refused(parties: Parties) -> None:
    course = await make_course(parties.hospital, parties.municipality, patient_cpr=fresh_cpr())
    r = await parties.municipality.get(f"{API}/courses/{course['id']}/visits?x=%00")
    assert_refused(r, "query.x")
    # The request id is stored in the audit rows; a NUL in it is refused, not replaced.
    r = await parties.municipality.get(
        f"{API}/courses/{course['id']}/visits", headers={"X-Request-ID": "abc\x00def"}
    )
    assert_refused(r, "header.x-request-id")


@pytest.mark.parametrize("key", [None, "ivs_unknown-key"])
async def test_without_a_valid_key_a_nul_is_still_a_401(
    api: MakeApi, key: str | None, parties: Parties
) -> None:
    client = await api("region", key=key or "")
    if key is None:
        client.client.headers.pop("Authorization")
    r = await client.get(f"{API}/courses?municipality_code=1%0057")
    assert r.status_code == 401, r.text


async def test_percent_encoded_percent_is_no_nul(parties: Parties) -> None:
    r = await parties.region.get(f"{API}/courses?municipality_code=%2500")
    assert r.status_code == 200, r.text


# --- strict types and bounds ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_dose_given_in_hospital", "yes"),
        ("first_dose_given_in_hospital", 1),
        ("parenteral_nutrition", "false"),
        ("planned_days", "9"),
        ("planned_days", 9.0),
        ("visits_per_day", True),
        ("minutes_per_administration", "30"),
        ("expected_start_date", 1711584000),
        ("expected_start_date", "2024-03-28T00:00:00"),
        ("administration_times", ["23:00", "23:00", "23:00"]),
        ("administration_times", ["08:00", "15:00", "08:00:00"]),
    ],
)
async def test_referral_fields_are_strict(parties: Parties, field: str, value: Any) -> None:
    assert_refused(await referral_field(field)(parties, value), f"body.{field}")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("administered", "yes"),
        ("administered", 1),
        ("started_at", 1711609500),
        ("started_at", "1711609500"),
        ("duration_minutes", "30"),
        ("duration_minutes", 30.0),
    ],
)
async def test_visit_fields_are_strict(parties: Parties, field: str, value: Any) -> None:
    course = await make_course(parties.hospital, parties.municipality, patient_cpr=fresh_cpr())
    body = {**visit("2024-03-28T08:05:00+01:00"), field: value}
    single = await parties.municipality.post(f"{API}/courses/{course['id']}/visits", json=body)
    assert_refused(single, f"body.{field}")
    batch = await parties.municipality.post(
        f"{API}/visits/batch", json={"visits": [{**body, "course_id": course["id"]}]}
    )
    assert_refused(batch, f"body.visits.0.{field}")


async def test_a_visit_marked_given_lasts_a_minute_at_least(parties: Parties) -> None:
    course = await make_course(parties.hospital, parties.municipality, patient_cpr=fresh_cpr())
    url = f"{API}/courses/{course['id']}/visits"
    given = visit("2024-03-28T08:05:00+01:00", minutes=0, administered=True)
    assert_refused(await parties.municipality.post(url, json=given), "body.administered")
    # Without the dose (nobody home) a 0-minute visit is a fact worth recording.
    not_given = visit("2024-03-28T08:05:00+01:00", minutes=0, administered=False)
    assert (await parties.municipality.post(url, json=not_given)).status_code == 201


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("complete", {**COMPLETE, "end_date": 1712016000}, "end_date"),
        ("corrections", {**CORRECTION, "start_date": "2024-03-29T00:00:00"}, "start_date"),
    ],
)
async def test_course_dates_are_iso_text(
    parties: Parties, action: str, body: dict[str, Any], field: str
) -> None:
    course = await make_course(parties.hospital, parties.municipality, patient_cpr=fresh_cpr())
    r = await parties.municipality.post(f"{API}/courses/{course['id']}/{action}", json=body)
    assert_refused(r, f"body.{field}")


async def test_an_acceptance_date_is_iso_text(parties: Parties) -> None:
    referral = await make_referral(parties.hospital, patient_cpr=fresh_cpr())
    r = await parties.municipality.post(
        f"{API}/referrals/{referral['id']}/accept",
        json={"start_date": 1711584000, "setting": "home"},
    )
    assert_refused(r, "body.start_date")


@pytest.mark.parametrize("value", ["1711584000", "2024-3-1", "20240301", "2024-03-01T00:00"])
@pytest.mark.parametrize("name", ["started_from", "started_to"])
async def test_a_course_search_date_is_iso_text(parties: Parties, name: str, value: str) -> None:
    r = await parties.region.get(f"{API}/courses", params={name: value})
    assert_refused(r, f"query.{name}")
    kept = await parties.region.get(f"{API}/courses", params={name: "2024-03-01"})
    assert kept.status_code == 200, kept.text


@pytest.mark.parametrize(
    ("field", "value"),
    [("indexed", "yes"), ("price_level_year", "2020"), ("valid_from", 1798761600)],
)
async def test_tariff_fields_are_strict(parties: Parties, field: str, value: Any) -> None:
    assert_refused(await tariff_field(field)(parties, value), f"body.{field}")


@pytest.mark.parametrize("index", ["99999999.9999", 99999999.9999, "10000", "0.5", 0.0001, "1e2"])
async def test_a_price_index_is_bounded(parties: Parties, index: Any) -> None:
    r = await parties.region.put(f"{API}/price-index/2024", json={"index": index})
    assert_refused(r, "body.index")


@pytest.mark.parametrize("index", ["1", "9999.9999", "104.35", 100])
async def test_a_price_index_within_the_bounds_is_kept(parties: Parties, index: Any) -> None:
    r = await parties.region.put(f"{API}/price-index/2024", json={"index": index})
    assert r.status_code == 200, r.text


def test_the_contract_shows_the_bounds(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    referral = schemas["ReferralIn"]["properties"]
    assert referral["administration_times"]["uniqueItems"] is True
    department = referral["department"]["anyOf"][0]
    assert department["maxLength"] == 200
    assert "CPR" in department["description"]
    assert referral["planned_days"]["minimum"] == 1
    assert referral["planned_days"]["maximum"] == 365
    sources = schemas["TariffDocument"]["properties"]["sources"]["anyOf"][0]
    assert sources["additionalProperties"]["maxLength"] == 2000
    assert sources["propertyNames"]["maxLength"] == 100
    assert schemas["PriceIndexIn"]["properties"]["index"]["pattern"] == PRICE_INDEX_PATTERN
    assert "CPR" in schemas["CancelIn"]["properties"]["reason"]["description"]
