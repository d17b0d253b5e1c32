"""Who may call what: every route of the app, called with every role, a foreign
organisation's key, no key and an unknown key, against real objects.

`MATRIX` (tests/support/access_matrix.py) is the specification. Each (method, path
template) of the app's route table has exactly one row, and each row one either way: a new
route without a row fails the test, and so does a row whose route is gone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from service.kit.settings import Settings
from service.main import create_app
from tests.support.access_matrix import (
    FILTERED,
    FOREIGN,
    HOME,
    MATRIX,
    ROLES,
    Fresh,
    Role,
    Targets,
)
from tests.support.api import Api, MakeApi
from tests.support.config import settings_for
from tests.support.factories import fresh_cpr, make_course, make_referral, visit
from tests.support.problem_record import recording


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """With review holds on, so a held course can be released, and account strings for the
    journals. The matrix fails to authenticate twice per route (no key, an unknown key), more
    than the throttle's default allows a minute from one address: the throttle is tested in
    tests/test_edge.py, not here."""
    accounts = {"29190623": {"default": "REGION-UDGIFT"}, "157": {"default": "157-INDTAEGT"}}
    settings = settings_for(database_url, tmp_path, review_holds=True, accounts=accounts)
    return settings.model_copy(update={"auth_failures_per_minute": 10_000})


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every API route, included routers flattened. The web
    pages (service/web, left out of the OpenAPI document) answer with sign-in redirects and
    HTML, not problem+json: tests/test_web.py holds their access rules."""
    try:  # FastAPI ≥ 0.16x keeps included routers as branches of the route table
        from fastapi.routing import iter_route_contexts
    except ImportError:
        flat = [(route, getattr(route, "path", "")) for route in app.routes]
    else:
        flat = [(c.original_route, c.path or "") for c in iter_route_contexts(app.routes)]
    return {
        (method, path)
        for route, path in flat
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods - {"HEAD", "OPTIONS"}
    }


def test_every_route_has_one_row_and_every_row_a_route(tmp_path: Path) -> None:
    """Runs without a database: a route added without a row fails here first."""
    app = create_app(settings_for("sqlite+aiosqlite:///:memory:", tmp_path))
    routes = app_routes(app)
    assert not routes - MATRIX.keys(), (
        f"routes without a row in MATRIX: {sorted(routes - MATRIX.keys())}"
    )
    assert not MATRIX.keys() - routes, f"rows without a route: {sorted(MATRIX.keys() - routes)}"


@dataclass
class Callers:
    home: dict[Role, Api]
    foreign: dict[Role, Api]
    anonymous: httpx.AsyncClient
    unknown: Api


async def _callers(app: FastAPI, api: MakeApi) -> Callers:
    home = {role: await api(role, HOME.get(role)) for role in ROLES}
    foreign: dict[Role, Api] = {
        "hospital": await api("hospital", FOREIGN["hospital"]),
        "municipality": await api("municipality", FOREIGN["municipality"]),
    }
    anonymous = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=recording(app), raise_app_exceptions=False),
        base_url="http://ivsettle.test",
    )
    unknown = await api("region", None, key="ivs_not-a-key-" + uuid.uuid4().hex)
    return Callers(home, foreign, anonymous, unknown)


async def _targets(callers: Callers) -> Targets:
    """A referral (pending), a course with visits in an issued period, the loaded tariff."""
    hospital, municipality, region = (
        callers.home[r] for r in ("hospital", "municipality", "region")
    )
    referral = await make_referral(hospital, patient_cpr=fresh_cpr())
    course = await make_course(hospital, municipality, patient_cpr=fresh_cpr())
    for started in ("2024-03-28T08:05:00+01:00", "2024-03-28T15:00:00+01:00"):
        r = await municipality.post(f"/api/v1/courses/{course['id']}/visits", json=visit(started))
        assert r.status_code == 201, r.text
    r = await region.post("/api/v1/settlements/2024-03/issue")
    assert r.status_code == 201, r.text
    r = await region.post("/api/v1/settlements/2024-04/approval")
    assert r.status_code == 201, r.text
    r = await region.get("/api/v1/tariffs")
    assert r.status_code == 200, r.text
    tariff_id = r.json()[0]["id"]
    r = await municipality.post(
        "/api/v1/objections",
        json={"course_id": course["id"], "reason": "not_treated", "text": "ingen besøg"},
    )
    assert r.status_code == 201, r.text
    objection_id = r.json()["id"]
    r = await callers.home["admin"].post(
        "/api/v1/webhooks",
        json={"url": "https://oekonomi.example.dk/ivsettle", "event_types": ["period.issued"]},
    )
    assert r.status_code == 201, r.text
    return Targets(
        referral_id=referral["id"],
        course_id=course["id"],
        tariff_id=tariff_id,
        objection_id=objection_id,
        webhook_id=r.json()["id"],
    )


async def _fresh(callers: Callers, kind: Fresh, shared: Targets) -> Targets:
    if kind is None:
        return shared
    hospital, municipality = callers.home["hospital"], callers.home["municipality"]
    if kind == "referral":
        referral = await make_referral(hospital, patient_cpr=fresh_cpr())
        return Targets(referral["id"], shared.course_id, shared.tariff_id)
    if kind in ("transfer_in", "transfer_out"):
        sender, receiver = municipality, callers.foreign["municipality"]
        if kind == "transfer_in":
            sender, receiver = receiver, sender
        moved = await make_course(hospital, sender, patient_cpr=fresh_cpr())
        r = await sender.post(
            f"/api/v1/courses/{moved['id']}/transfers",
            json={"municipality_code": receiver.org, "reason": "borgeren er flyttet"},
        )
        assert r.status_code == 201, r.text
        return Targets(
            shared.referral_id, moved["id"], shared.tariff_id, transfer_id=r.json()["id"]
        )
    course = await make_course(hospital, municipality, patient_cpr=fresh_cpr())
    if kind == "held_course":  # completed without a dose: held by the review rules
        r = await municipality.post(
            f"/api/v1/courses/{course['id']}/complete",
            json={"end_date": "2024-03-30", "reason": "completed"},
        )
        assert r.status_code == 200, r.text
    return Targets(shared.referral_id, course["id"], shared.tariff_id)


async def test_access_matrix(app: FastAPI, api: MakeApi) -> None:
    """One pass over the whole matrix per backend; every mismatch is listed at the end."""
    callers = await _callers(app, api)
    shared = await _targets(callers)
    mismatches: list[str] = []

    def expect(ok: bool, who: str, method: str, path: str, r: httpx.Response, want: str) -> None:
        if not ok:
            mismatches.append(
                f"{method} {path} as {who}: got {r.status_code}, want {want}: {r.text[:200]}"
            )

    try:
        for (method, path), access in sorted(MATRIX.items(), key=lambda kv: kv[0][::-1]):
            for who in ("anonymous", "unknown", *ROLES, "foreign hospital", "foreign municipality"):
                foreign_role: Role | None = None
                if who.startswith("foreign "):
                    foreign_role = who.removeprefix("foreign ")  # type: ignore[assignment]
                    assert foreign_role is not None
                    if foreign_role not in access.allowed:
                        continue  # refused by role already, as checked with the home key
                targets = await _fresh(callers, access.fresh, shared)
                url = path.format_map(
                    targets.params() | ({"period": access.period} if access.period else {})
                )
                body = access.body(targets) if access.body else None
                if who == "anonymous":
                    client = callers.anonymous
                elif who == "unknown":
                    client = callers.unknown.client
                elif foreign_role is not None:
                    client = callers.foreign[foreign_role].client
                else:
                    client = callers.home[who].client  # type: ignore[index]
                r = await client.request(method, url, json=body)

                if who in ("anonymous", "unknown"):
                    expect(r.status_code == 401, who, method, path, r, "401")
                    expect(
                        r.headers.get("www-authenticate") == "Bearer",
                        who,
                        method,
                        path,
                        r,
                        "a WWW-Authenticate: Bearer header",
                    )
                elif foreign_role is not None:
                    want = access.foreign.get(foreign_role)
                    if want is None:
                        # Not bound to the organisation: a foreign key is as good as the home one.
                        expect(r.is_success, who, method, path, r, "2xx (not org-bound)")
                    elif want == FILTERED:
                        assert access.listed is not None
                        listed = {item["id"] for item in r.json()} if r.is_success else None
                        ok = listed is not None and getattr(targets, access.listed) not in listed
                        expect(ok, who, method, path, r, "200 without the home object")
                    else:
                        expect(r.status_code == want, who, method, path, r, str(want))
                        if method == "POST" and path == "/api/v1/visits/batch" and r.is_success:
                            status = r.json()["results"][0]["http_status"]
                            expect(status == 404, who, method, path, r, "the item rejected 404")
                elif who in access.allowed:
                    expect(r.is_success, who, method, path, r, "2xx")
                    if access.listed is not None and r.is_success:
                        # The home organisation (and the region) do see what a foreign key may not.
                        listed = {item["id"] for item in r.json()}
                        wanted = getattr(targets, access.listed)
                        expect(wanted in listed, who, method, path, r, "the object in the list")
                else:
                    expect(r.status_code == 403, who, method, path, r, "403")
                    if r.status_code == 403:
                        code = r.json().get("code")
                        expect(code == "role_not_allowed", who, method, path, r, "role_not_allowed")
    finally:
        await callers.anonymous.aclose()
    assert not mismatches, "access matrix mismatches:\n" + "\n".join(mismatches)
