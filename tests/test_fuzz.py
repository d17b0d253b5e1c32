"""Schemathesis against the exported contract (contracts/openapi.json), in process.

Every operation of the contract gets generated requests — valid ones, valid ones aimed at
real objects, and invalid ones — and each is sent with the key of every role, with no
key and with an unknown key. Every answer must be documented and match the contract
(status code, content type, headers, body schema), nothing may answer 500, invalid
input must be refused, and nothing may answer without a key. Then Schemathesis' coverage
phase: every parameter and field at and just past its bounds.

One app and database per backend for the whole module (an issued period, the keys), and
a fresh referral and course for each operation. Deterministic: Hypothesis derandomized,
the coverage phase is a fixed list, the order is fixed. Failures are collected rather
than raised, so Hypothesis does not spend time shrinking and one run lists every finding.
About 45 s per backend.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.main import create_app
from service.web.monitoring import router as monitoring_pages
from service.web.router import router as web_pages
from tests.support.access_matrix import MATRIX
from tests.support.api import BASE_URL, Api, MakeApi, add_key, asgi_client
from tests.support.config import NOW, settings_for
from tests.support.databases import BACKENDS, reset_postgres
from tests.support.factories import fresh_cpr, make_course, make_referral, visit
from tests.support.problem_record import recording
from tests.support.tariffs import tariff_2021

pytestmark = pytest.mark.slow

CONTRACT = Path(__file__).resolve().parents[1] / "contracts" / "openapi.json"
SCHEMA = schemathesis.openapi.from_path(CONTRACT)
OPERATIONS = {op.label: op for op in (result.ok() for result in SCHEMA.get_all_operations())}
MAX_EXAMPLES = 10

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ROLES = {"hospital": "HGH", "municipality": "157", "region": None, "admin": None}
T = TypeVar("T")


@dataclass
class Env:
    loop: asyncio.AbstractEventLoop
    app: FastAPI
    client: httpx.AsyncClient
    keys: dict[str, str | None]
    """Authorization per caller: the four roles, no key (None) and an unknown key."""
    parties: dict[str, Api] = field(default_factory=dict)
    tariff_id: int = 0

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)


async def _prepare(env: Env) -> None:
    """Keys for every caller, and an issued period with a course in it."""
    for role, org in ROLES.items():
        new = await add_key(env.app, f"fuzz {role}", role, org, NOW)
        env.keys[role] = f"Bearer {new.key}"
        client = asgi_client(env.app, new.key, raise_app_exceptions=False)
        env.parties[role] = Api(client, role, org, new.client.id)
    env.keys["no key"] = None
    env.keys["unknown key"] = f"Bearer ivs_unknown-{uuid.uuid4().hex}"
    await _objects(env)
    region = env.parties["region"]
    r = await region.post("/api/v1/settlements/2024-03/issue")
    assert r.status_code == 201, r.text
    env.tariff_id = (await region.get("/api/v1/tariffs")).json()[0]["id"]


async def _objects(env: Env) -> dict[str, Any]:
    """A pending referral, and an active course with a visit (started 2024-03-28)."""
    hospital, municipality = env.parties["hospital"], env.parties["municipality"]
    referral = await make_referral(hospital, patient_cpr=fresh_cpr())
    course = await make_course(hospital, municipality, patient_cpr=fresh_cpr())
    r = await municipality.post(
        f"/api/v1/courses/{course['id']}/visits", json=visit("2024-03-28T08:05:00+01:00")
    )
    assert r.status_code == 201, r.text
    return {
        "referral_id": referral["id"],
        "course_id": course["id"],
        "tariff_id": env.tariff_id,
        "period": "2024-03",
        "municipality_code": "157",
        "code": "157",
        "year": 2024,
    }


@pytest.fixture(scope="module", params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """One app and database per backend; the app runs on a loop of its own, which the
    synchronous Hypothesis tests drive."""
    tmp = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), tmp / "ivsettle.db")
        url = f"sqlite+aiosqlite:///{tmp / 'ivsettle.db'}"
    else:
        url = request.getfixturevalue("pg_url")
        asyncio.run(reset_postgres(url, tmp))
    # The unknown-key and no-key callers fail thousands of times from one address: the
    # throttle (tests/test_edge.py) would soon refuse every caller, so it is set out of reach.
    fuzz_settings = settings_for(url, tmp).model_copy(update={"auth_failures_per_minute": 10**9})
    app = create_app(fuzz_settings)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=recording(app), raise_app_exceptions=False),
        base_url=BASE_URL,
    )
    env = Env(asyncio.new_event_loop(), app, client, {})
    try:
        env.run(_prepare(env))
        yield env
    finally:
        for party in env.parties.values():
            env.run(party.client.aclose())
        env.run(client.aclose())
        env.run(app.state.engine.dispose())
        env.loop.close()


@pytest.fixture
def real(env: Env) -> dict[str, Any]:
    """Path parameters pointing at real objects, fresh for each operation: what one
    operation did to them (cancel, withdraw) does not narrow what the next can reach."""
    return env.run(_objects(env))


def _strategy(operation: Any, real: dict[str, Any]) -> st.SearchStrategy[Any]:
    names = {p.name for p in operation.path_parameters}
    aimed = {name: value for name, value in real.items() if name in names}
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    if aimed:
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=aimed))
    # The contract's own examples (a whole valid referral, say): random data seldom is.
    strategies += operation.get_strategies_from_examples()
    return st.one_of(strategies)


def _send(env: Env, case: Any, auth: str | None) -> httpx.Response:
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    # Only the headers that matter: the generated ones are noise (and may not be encodable).
    headers = {}
    if "Content-Type" in kwargs["headers"]:
        headers["Content-Type"] = kwargs["headers"]["Content-Type"]
    if auth is not None:
        headers["Authorization"] = auth
    request: dict[str, Any] = {"headers": headers, "params": kwargs.get("params") or None}
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        request["content"] = data if isinstance(data, bytes) else str(data).encode()
    return env.run(env.client.request(kwargs["method"], kwargs["url"], **request))


def _refused_unauthenticated(response: httpx.Response) -> bool:
    """Without a valid key: 401. FastAPI reads the body before it solves dependencies, so
    a body that is not JSON at all (400) or not well-formed JSON (422 json_invalid) is
    refused before the key is looked at: still a refusal, and it tells nothing."""
    if response.status_code in (400, 401, 429):
        return True
    if response.status_code != 422:
        return False
    violations = response.json().get("violations") or [{}]
    return all(v.get("code") == "json_invalid" for v in violations)


def _checks(case: Any) -> list[Any]:
    """Negative data must be refused, unless only the (replaced) headers were negated."""
    meta = case.meta
    negated = meta is not None and any(
        component.mode.is_negative
        for location, component in meta.components.items()
        if location != ParameterLocation.HEADER
    )
    return [*CHECKS, negative_data_rejection] if negated else CHECKS


def _lax_coercion(failure: Any) -> bool:
    """Pydantic's lax mode takes some values of the wrong JSON type for what they spell
    (`0` as a date, `"true"` as a boolean, `"5"` as an integer): a superset of the
    contract that no client written against it notices, so it is let be. Any other
    invalid input (range, length, pattern, enum, missing or extra field) must be refused."""
    return type(failure).__name__ == "AcceptedNegativeData" and "Incorrect type" in (
        failure.message or ""
    )


class Findings:
    """Failures per (caller, kind, status), the first example of each kept."""

    def __init__(self) -> None:
        self.found: dict[tuple[str, ...], str] = {}

    def add(self, key: tuple[str, ...], text: str) -> None:
        self.found.setdefault(key, text)

    def check(self, env: Env, case: Any, caller: str) -> None:
        """Sends the case as `caller` and records whatever breaks the contract."""
        response = _send(env, case, env.keys[caller])
        where = f"{case.method} {response.request.url.raw_path.decode()[:160]} as {caller}"
        if caller in ("no key", "unknown key") and not _refused_unauthenticated(response):
            self.add((caller, "not 401", str(response.status_code)), f"{where}: not refused")
        try:
            case.validate_response(response, checks=_checks(case))
        except FailureGroup as group:
            for failure in group.exceptions:
                if _lax_coercion(failure):
                    continue
                self.add(
                    (caller, type(failure).__name__, str(response.status_code)),
                    f"{where}: {response.status_code} {failure.title}: "
                    f"{(failure.message or '').strip()[:300]} | {response.text[:200]}",
                )

    def report(self, label: str) -> str:
        return f"{label}:\n" + "\n".join(self.found.values())


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_generated_requests_hold_the_contract_for_every_caller(
    env: Env, real: dict[str, Any], label: str
) -> None:
    operation = OPERATIONS[label]
    findings = Findings()

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        # Requests through the app are slow for Hypothesis, and schemas yield large bodies.
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,
        ],
    )
    @given(case=_strategy(operation, real))
    def fuzz(case: Any) -> None:
        for caller in env.keys:
            findings.check(env, case, caller)

    fuzz()
    assert not findings.found, findings.report(label)


def _aimed(case: Any, real: dict[str, Any]) -> Any | None:
    """The case with its path parameters pointing at real objects, unless the path is
    what the case negates (or names nothing real)."""
    meta = case.meta
    path = meta.components.get(ParameterLocation.PATH) if meta is not None else None
    names = {name for name in case.path_parameters if name in real}
    if not names or (path is not None and path.mode.is_negative):
        return None
    aimed = case.derive()
    aimed.path_parameters = {**case.path_parameters, **{n: str(real[n]) for n in names}}
    return aimed


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_boundary_values_hold_the_contract(env: Env, real: dict[str, Any], label: str) -> None:
    """Schemathesis' coverage phase: every parameter and field at and just past its
    bounds (lengths, ranges, formats, enums, missing and extra fields), deterministic.
    Sent as one role the operation admits (the access matrix tests all of them), once as
    generated and once aimed at the real objects, so the use cases run, not only 404."""
    operation = OPERATIONS[label]
    allowed = MATRIX[(operation.method.upper(), operation.path)].allowed
    caller = next(
        role for role in ("municipality", "hospital", "region", "admin") if role in allowed
    )
    findings = Findings()
    cases = SCHEMA.iter_coverage_cases(
        operation,
        generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        generation_config=SCHEMA.config.generation_for(operation=operation),
    )
    for case in cases:
        findings.check(env, case, caller)
        aimed = _aimed(case, real)
        if aimed is not None:
            findings.check(env, aimed, caller)
    assert not findings.found, findings.report(label)


HUGE = 2**70


@pytest.mark.parametrize(
    ("role", "org", "method", "url", "body"),
    [
        ("admin", None, "GET", f"/api/v1/tariffs/{2**31}", None),
        ("admin", None, "GET", f"/api/v1/tariffs/-{HUGE}", None),
        ("region", None, "GET", f"/api/v1/referrals?offset={HUGE}", None),
        ("region", None, "GET", f"/api/v1/courses?offset={HUGE}", None),
        ("admin", None, "POST", "/api/v1/tariffs", {"tier_thresholds": [1, 2**40]}),
        ("municipality", "157", "POST", "{course}/visits", "9999-12-31T23:30:00+00:00"),
        ("municipality", "157", "POST", "{course}/visits", "0001-01-01T00:00:00+10:00"),
        ("municipality", "157", "POST", "/api/v1/visits/batch", "9999-12-31T23:00:00-10:00"),
    ],
)
async def test_values_past_the_databases_range_are_refused_not_a_500(
    api: MakeApi, role: str, org: str | None, method: str, url: str, body: Any
) -> None:
    """What the fuzzing found: numbers past 32/64 bits reached the database, and times at
    the edge of year 1 or 9999 overflowed moving to UTC or local time; all were 500s."""
    client = await api(role, org)
    if isinstance(body, str):  # a visit at that time, on a real course
        course = await make_course(await api("hospital", "HGH"), client, patient_cpr=fresh_cpr())
        item = visit(body)
        if url.startswith("{course}"):
            url = url.format(course=f"/api/v1/courses/{course['id']}")
            body = item
        else:
            body = {"visits": [{**item, "course_id": course["id"]}]}
    elif body is not None:  # the shipped tariff, with the field replaced
        body = {**tariff_2021(), **body}
    r = await client.client.request(method, url, json=body)
    assert r.status_code == 422, r.text


# --- the web pages, through the same kind of fuzzing (issue 12, item 8) ---------------------

WEB_ROUTES = sorted(
    (method, route.path)
    for router in (web_pages, monitoring_pages)
    for route in router.routes
    if isinstance(route, APIRoute)
    for method in route.methods - {"HEAD", "OPTIONS"}
)
# Values a path segment of a page is tried with: edges of periods, quarters and years (a
# month whose neighbour is past year 9999 was a 500), codes, CPR-shaped and hostile text.
EDGE_SEGMENTS = [
    "2024-03", "9999-12", "0001-01", "0000-00", "2024-13", "10000-01", "157", "0157", "999",
    "2024Q1", "9999Q4", "0000Q1", "2024Q5", "2024", "9999", "0", "-1", str(2**70), "csv",
    "xlsx", "pdf", "exe", "0101501234", "x0101501234", "%41", "..", "ÆØÅ", "٢٠٢٤-٠٣", " ",
]  # fmt: skip
segment = st.one_of(
    st.sampled_from(EDGE_SEGMENTS),
    st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#"),
        min_size=1,
        max_size=30,
    ),
)
query = st.dictionaries(
    st.sampled_from(["naeste", "besked", "udstedt", "behandling", "trin", "ydelse", "x"]),
    st.one_of(st.sampled_from(["/", "//evil.test", "ud", "ja", "3", "0101501234"]), st.text()),
    max_size=3,
)


async def _web_clients(env: Env) -> dict[str, httpx.AsyncClient]:
    """A cookie-keeping browser per caller: region, municipality, hospital, anonymous."""
    browsers: dict[str, httpx.AsyncClient] = {}
    for who in ("region", "municipality", "hospital", "anonymous"):
        browser = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=env.app, raise_app_exceptions=False),
            base_url=BASE_URL,
        )
        key = env.keys.get(who)
        if key is not None:
            r = await browser.post("/log-ind", data={"api_key": key.removeprefix("Bearer ")})
            assert r.status_code == 303, r.text
        browsers[who] = browser
    return browsers


@pytest.fixture(scope="module")
def web(env: Env) -> Iterator[dict[str, httpx.AsyncClient]]:
    browsers = env.run(_web_clients(env))
    yield browsers
    for browser in browsers.values():
        env.run(browser.aclose())


def _csrf(env: Env, browser: httpx.AsyncClient) -> str:
    page = env.run(browser.get("/trappemodel/2024"))
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    return found[1] if found else ""


@pytest.mark.parametrize(("method", "path"), WEB_ROUTES)
def test_generated_requests_to_the_web_pages_never_answer_500(
    env: Env, web: dict[str, httpx.AsyncClient], method: str, path: str
) -> None:
    """Every page, with generated path segments, queries and form fields, as every caller:
    an answer below 500 (a page, a redirect, a download), never the server's error."""
    names = re.findall(r"\{(\w+)\}", path)
    findings: dict[tuple[str, int], str] = {}
    tokens = {who: _csrf(env, browser) for who, browser in web.items()}

    @settings(
        max_examples=MAX_EXAMPLES * 3,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        values=st.fixed_dictionaries({name: segment for name in names}),
        params=query,
        real_token=st.booleans(),
    )
    def fuzz(values: dict[str, str], params: dict[str, str], real_token: bool) -> None:
        url = path.format(**{n: quote(v, safe="") for n, v in values.items()})
        for who, browser in web.items():
            data = None
            if method == "POST":
                # Never the real token for sign-out: the browser would stay signed out.
                token = tokens[who] if real_token and path != "/log-ud" else "forged"
                data = {"csrf": token, "api_key": "ivs_fuzz", "naeste": params.get("naeste", "/")}
            r = env.run(browser.request(method, url, params=params, data=data))
            if r.status_code >= 500:
                findings.setdefault(
                    (who, r.status_code), f"{method} {url} {params}: {r.text[:200]}"
                )

    fuzz()
    assert not findings, "\n".join(findings.values())
