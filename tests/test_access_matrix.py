"""Who may call what: every route of the app, called with every role, a foreign
organisation's key, no key and an unknown key, against real objects.

`MATRIX` is the specification. Each (method, path template) of the app's route table
has exactly one row, and each row one either way: a new route without a row fails the
test, and so does a row whose route is gone. For the roles bound to an organisation the
row also says what a key of another hospital or municipality gets for the home
organisation's object: 404 where the service hides that the object exists, 403 where it
refuses openly, or `FILTERED` where a list simply leaves the object out.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute

from service.main import create_app
from tests.conftest import Api, MakeApi, settings_for
from tests.factories import make_course, make_referral, referral_payload, visit

Role = Literal["hospital", "municipality", "region", "admin"]
ROLES: tuple[Role, ...] = ("hospital", "municipality", "region", "admin")
HOME = {"hospital": "HGH", "municipality": "157"}
FOREIGN = {"hospital": "BFH", "municipality": "101"}
FILTERED = "filtered"
"""The foreign key gets 200, and the home organisation's object is not in the list."""

Fresh = Literal["referral", "course"] | None
Foreign = int | Literal["filtered"]

TARIFF_FILE = (
    Path(__file__).resolve().parents[1]
    / "contracts"
    / "tariffs"
    / "2021-10-04-region-hovedstaden.json"
)


@dataclass(frozen=True)
class Access:
    """One row: the roles let in, and what a foreign organisation's key gets."""

    allowed: frozenset[Role]
    foreign: dict[Role, Foreign] = field(default_factory=dict)
    fresh: Fresh = None
    """Mutating routes get a new referral or course per call, so every call can succeed."""
    body: Callable[[Targets], Any] | None = None
    listed: str | None = None
    """For a list: the target whose id the home key must see and a FILTERED one must not."""


def allow(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


@dataclass
class Targets:
    """Real objects the path parameters point at."""

    referral_id: str
    course_id: str
    tariff_id: int
    period: str = "2024-03"
    municipality_code: str = "157"
    code: str = "157"
    fmt: str = "csv"
    year: int = 2024
    quarter: str = "2024Q1"

    def params(self) -> dict[str, Any]:
        return dict(vars(self))


_cprs = itertools.count(1)


def fresh_cpr() -> str:
    """Distinct, date-valid CPR numbers, so fresh referrals never meet an active course."""
    n = next(_cprs)
    return f"{1 + n % 28:02d}{1 + n // 28 % 12:02d}{40 + n // 336 % 50:02d}{n % 10000:04d}"


MATRIX: dict[tuple[str, str], Access] = {
    # Reference data and tariffs: everyone reads; the admin (and the region the index) writes.
    ("GET", "/api/v1/municipalities"): Access(allow(*ROLES)),
    ("PATCH", "/api/v1/municipalities/{code}"): Access(
        allow("admin"), body=lambda t: {"parenteral_nutrition_policy": "reject"}
    ),
    ("GET", "/api/v1/hospitals"): Access(allow(*ROLES)),
    ("GET", "/api/v1/tariffs"): Access(allow(*ROLES)),
    ("GET", "/api/v1/tariffs/{tariff_id}"): Access(allow(*ROLES)),
    ("POST", "/api/v1/tariffs"): Access(
        allow("admin"), body=lambda t: json.loads(TARIFF_FILE.read_text(encoding="utf-8"))
    ),
    ("GET", "/api/v1/price-index"): Access(allow(*ROLES)),
    ("PUT", "/api/v1/price-index/{year}"): Access(
        allow("region", "admin"), body=lambda t: {"index": "103.7"}
    ),
    # Referrals: a hospital its own; a municipality those sent to it; the region all.
    ("POST", "/api/v1/referrals"): Access(
        allow("hospital"),
        foreign={"hospital": 403},  # BFH posting for HGH: refused openly (hospital_mismatch)
        body=lambda t: referral_payload(patient_cpr=fresh_cpr()),
    ),
    ("GET", "/api/v1/referrals"): Access(
        allow("hospital", "municipality", "region"),
        foreign={"hospital": FILTERED, "municipality": FILTERED},
        listed="referral_id",
    ),
    ("GET", "/api/v1/referrals/{referral_id}"): Access(
        allow("hospital", "municipality", "region"),
        foreign={"hospital": 404, "municipality": 404},
    ),
    ("POST", "/api/v1/referrals/{referral_id}/withdraw"): Access(
        allow("hospital"), foreign={"hospital": 404}, fresh="referral"
    ),
    ("POST", "/api/v1/referrals/{referral_id}/accept"): Access(
        allow("municipality"),
        foreign={"municipality": 404},
        fresh="referral",
        body=lambda t: {"start_date": "2024-04-02", "setting": "home"},
    ),
    ("POST", "/api/v1/referrals/{referral_id}/reject"): Access(
        allow("municipality"),
        foreign={"municipality": 404},
        fresh="referral",
        body=lambda t: {"reason": "capacity"},
    ),
    # Courses and visits: the municipality writes its own; the region reads all.
    ("GET", "/api/v1/courses"): Access(
        allow("municipality", "region"), foreign={"municipality": FILTERED}, listed="course_id"
    ),
    ("GET", "/api/v1/courses/{course_id}"): Access(
        allow("municipality", "region"), foreign={"municipality": 404}
    ),
    ("POST", "/api/v1/courses/{course_id}/complete"): Access(
        allow("municipality"),
        foreign={"municipality": 404},
        fresh="course",
        body=lambda t: {"end_date": "2024-04-05", "reason": "completed"},
    ),
    ("POST", "/api/v1/courses/{course_id}/cancel"): Access(
        allow("municipality"),
        foreign={"municipality": 404},
        fresh="course",
        body=lambda t: {"reason": "registered by mistake"},
    ),
    ("POST", "/api/v1/courses/{course_id}/corrections"): Access(
        allow("municipality"),
        foreign={"municipality": 404},
        fresh="course",
        body=lambda t: {"start_date": "2024-04-03", "reason": "wrong start date"},
    ),
    ("GET", "/api/v1/courses/{course_id}/visits"): Access(
        allow("municipality", "region"), foreign={"municipality": 404}
    ),
    ("POST", "/api/v1/courses/{course_id}/visits"): Access(
        allow("municipality"),
        foreign={"municipality": 404},
        fresh="course",
        body=lambda t: visit("2024-04-02T08:05:00+02:00"),
    ),
    ("POST", "/api/v1/visits/batch"): Access(
        allow("municipality"),
        # Items are independent: a foreign course is rejected in the item (404), not the batch.
        foreign={"municipality": 200},
        fresh="course",
        body=lambda t: {
            "visits": [{**visit("2024-04-02T08:05:00+02:00"), "course_id": t.course_id}]
        },
    ),
    # Settlement: the region; a municipality reads its own statement and the staircase.
    ("GET", "/api/v1/settlements/{period}"): Access(allow("region")),
    ("GET", "/api/v1/settlements/{period}.xlsx"): Access(allow("region")),
    ("POST", "/api/v1/settlements/{period}/issue"): Access(allow("region")),
    ("GET", "/api/v1/settlements/{period}/statements/{municipality_code}"): Access(
        allow("region", "municipality"), foreign={"municipality": 404}
    ),
    ("GET", "/api/v1/settlements/{period}/statements/{municipality_code}.{fmt}"): Access(
        allow("region", "municipality"), foreign={"municipality": 404}
    ),
    ("GET", "/api/v1/staircase/{year}"): Access(allow("region", "municipality")),
    # Monitoring (§4.1): the region all municipalities; a municipality its own figures (without
    # `municipality_code` a foreign key simply gets its own; asking for another's is a 404,
    # tests/test_monitoring.py).
    ("GET", "/api/v1/monitoring/{quarter}"): Access(allow("region", "municipality")),
    ("GET", "/api/v1/monitoring/{quarter}.{fmt}"): Access(allow("region", "municipality")),
}


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
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
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
    r = await region.get("/api/v1/tariffs")
    assert r.status_code == 200, r.text
    return Targets(referral_id=referral["id"], course_id=course["id"], tariff_id=r.json()[0]["id"])


async def _fresh(callers: Callers, kind: Fresh, shared: Targets) -> Targets:
    if kind is None:
        return shared
    hospital, municipality = callers.home["hospital"], callers.home["municipality"]
    if kind == "referral":
        referral = await make_referral(hospital, patient_cpr=fresh_cpr())
        return Targets(referral["id"], shared.course_id, shared.tariff_id)
    course = await make_course(hospital, municipality, patient_cpr=fresh_cpr())
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
                url = path.format_map(targets.params())
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
