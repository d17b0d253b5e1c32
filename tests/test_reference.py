"""Reference data, tariffs, the price index, and authentication."""

from __future__ import annotations

import pytest

from tests.support.api import MakeApi
from tests.support.tariffs import tariff_2027


async def test_the_29_municipalities_with_clusters(api: MakeApi) -> None:
    region = await api("region")
    r = await region.get("/api/v1/municipalities")
    assert r.status_code == 200
    rows = r.json()
    assert len(rows) == 29
    by_code = {m["code"]: m for m in rows}
    assert by_code["157"]["name"] == "Gentofte"
    assert by_code["400"]["cluster"] == "Bornholm"
    assert {m["cluster"] for m in rows} == {"Byen", "Midt", "Nord", "Syd", "Bornholm"}
    assert all(m["parenteral_nutrition_policy"] == "reject" for m in rows)


async def test_hospitals(api: MakeApi) -> None:
    hospital = await api("hospital", "RH")
    r = await hospital.get("/api/v1/hospitals")
    assert r.status_code == 200
    codes = {h["code"]: h for h in r.json()}
    assert set(codes) == {"RH", "BFH", "HGH", "AHH", "NOH", "BOH"}
    assert codes["RH"]["shak"] == "1301"


async def test_missing_and_wrong_keys_are_401(api: MakeApi) -> None:
    anonymous = await api("region")
    del anonymous.client.headers["Authorization"]
    r = await anonymous.get("/api/v1/municipalities")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "missing_api_key"
    wrong = await api("region", key="ivs_not-a-real-key")
    r = await wrong.get("/api/v1/municipalities")
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_api_key"
    assert r.headers["www-authenticate"] == "Bearer"


async def test_unknown_route_is_problem_json(api: MakeApi) -> None:
    region = await api("region")
    r = await region.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"


async def test_the_2021_tariff_is_loaded(api: MakeApi) -> None:
    municipality = await api("municipality", "101")
    r = await municipality.get("/api/v1/tariffs")
    assert r.status_code == 200
    (version,) = r.json()
    assert version["valid_from"] == "2021-10-04"
    assert version["treatments"]["antibiotics"]["tiers"][0] == {
        "course_fee": "6915.00",
        "day_fee": "1485.00",
    }
    assert version["treatments"]["fluids"]["included_days"] == 3
    assert version["tier_thresholds"] == [1500, 3000]
    assert version["payer"]["name"] == "Region Hovedstaden"
    r = await municipality.get(f"/api/v1/tariffs/{version['id']}")
    assert r.status_code == 200 and r.json()["document_sha256"] == version["document_sha256"]
    assert (await municipality.get("/api/v1/tariffs/9999")).status_code == 404


async def test_admin_adds_a_version_idempotently(api: MakeApi) -> None:
    admin = await api("admin")
    r = await admin.post("/api/v1/tariffs", json=tariff_2027())
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["payer"]["name"] == "Region Østdanmark"
    again = await admin.post("/api/v1/tariffs", json=tariff_2027())
    assert again.status_code == 200
    assert again.json()["id"] == created["id"]
    changed = tariff_2027()
    changed["name"] = "another name"
    r = await admin.post("/api/v1/tariffs", json=changed)
    assert r.status_code == 409
    assert r.json()["code"] == "tariff_version_exists"
    listed = (await admin.get("/api/v1/tariffs")).json()
    assert [v["valid_from"] for v in listed] == ["2021-10-04", "2027-01-01"]


@pytest.mark.parametrize("role", ["hospital", "municipality", "region"])
async def test_only_admin_adds_tariffs(api: MakeApi, role: str) -> None:
    client = await api(role, {"hospital": "RH", "municipality": "101"}.get(role))
    r = await client.post("/api/v1/tariffs", json=tariff_2027())
    assert r.status_code == 403
    assert r.json()["code"] == "role_not_allowed"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.update(tier_thresholds=[3000, 1500]), "body"),
        (lambda d: d["treatments"].pop("pump"), "body"),
        (lambda d: d["treatments"]["pump"]["tiers"].pop(), "body.treatments.pump.tiers"),
        (
            lambda d: d["treatments"]["pump"]["tiers"][0].update(course_fee="20.001"),
            "body.treatments.pump.tiers.0.course_fee",
        ),
        (lambda d: d["payer"].update(cvr="12"), "body.payer.cvr"),
    ],
)
async def test_invalid_tariff_documents_are_422(api: MakeApi, mutate: object, field: str) -> None:
    admin = await api("admin")
    doc = tariff_2027()
    mutate(doc)  # type: ignore[operator]
    r = await admin.post("/api/v1/tariffs", json=doc)
    assert r.status_code == 422
    assert field in [v["field"] for v in r.json()["violations"]]


async def test_price_index_is_kept_by_region_finance(api: MakeApi) -> None:
    region = await api("region")
    r = await region.put("/api/v1/price-index/2024", json={"index": "104.3"})
    assert r.status_code == 200, r.text
    assert r.json()["index"] == "104.3"
    r = await region.put("/api/v1/price-index/2024", json={"index": "104.35"})
    assert r.json()["index"] == "104.35"
    await region.put("/api/v1/price-index/2020", json={"index": 100})
    listed = (await (await api("municipality", "157")).get("/api/v1/price-index")).json()
    assert [(row["year"], row["index"]) for row in listed] == [(2020, "100"), (2024, "104.35")]
    hospital = await api("hospital", "RH")
    assert (await hospital.put("/api/v1/price-index/2024", json={"index": "1"})).status_code == 403
    assert (await region.put("/api/v1/price-index/2024", json={"index": "-1"})).status_code == 422


async def test_admin_changes_the_parenteral_nutrition_policy(api: MakeApi) -> None:
    admin = await api("admin")
    r = await admin.patch(
        "/api/v1/municipalities/157", json={"parenteral_nutrition_policy": "accept"}
    )
    assert r.status_code == 200
    assert r.json()["parenteral_nutrition_policy"] == "accept"
    assert (
        await admin.patch(
            "/api/v1/municipalities/999", json={"parenteral_nutrition_policy": "accept"}
        )
    ).status_code == 404
    region = await api("region")
    assert (
        await region.patch(
            "/api/v1/municipalities/157", json={"parenteral_nutrition_policy": "reject"}
        )
    ).status_code == 403


async def test_request_id_is_echoed(api: MakeApi) -> None:
    region = await api("region")
    r = await region.get("/api/v1/hospitals", headers={"X-Request-ID": "trace-123"})
    assert r.headers["x-request-id"] == "trace-123"
    r = await region.get("/api/v1/tariffs/424242", headers={"X-Request-ID": "trace-456"})
    assert r.json()["request_id"] == "trace-456"
