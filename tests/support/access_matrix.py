"""Who may call what: the specification of every API route's access, one row per (method,
path template) of the app's route table. tests/test_access_matrix.py calls every row with
every role, a foreign organisation's key, no key and an unknown key; tests/test_fuzz.py
sends every generated request with the keys of the roles a row lets in.

For the roles bound to an organisation a row also says what a key of another hospital or
municipality gets for the home organisation's object: 404 where the service hides that the
object exists, 403 where it refuses openly, or `FILTERED` where a list simply leaves the
object out.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from tests.support.factories import fresh_cpr, referral_payload, visit
from tests.support.tariffs import tariff_2021

Role = Literal["hospital", "municipality", "region", "admin"]
ROLES: tuple[Role, ...] = ("hospital", "municipality", "region", "admin")
HOME = {"hospital": "HGH", "municipality": "157"}
FOREIGN = {"hospital": "BFH", "municipality": "101"}
FILTERED: Literal["filtered"] = "filtered"
"""The foreign key gets 200, and the home organisation's object is not in the list."""

Fresh = Literal["referral", "course", "held_course", "transfer_in", "transfer_out"] | None
"""`transfer_in`: a course of the foreign municipality proposed to the home one (which
answers it); `transfer_out`: a course of the home municipality proposed to the foreign one."""
Foreign = int | Literal["filtered"]


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
    period: str | None = None
    """The period called, when not the issued `Targets.period` (an approval needs a draft)."""


def allow(*roles: Role) -> frozenset[Role]:
    """The roles a row lets in."""
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
    transfer_id: str = ""
    objection_id: str = ""
    cvr: str = "29190623"
    side: str = "157"
    webhook_id: str = ""

    def params(self) -> dict[str, Any]:
        """The path parameters, by name."""
        return dict(vars(self))


MATRIX: dict[tuple[str, str], Access] = {
    # Reference data and tariffs: everyone reads; the admin (and the region the index) writes.
    ("GET", "/api/v1/municipalities"): Access(allow(*ROLES)),
    ("PATCH", "/api/v1/municipalities/{code}"): Access(
        allow("admin"), body=lambda t: {"parenteral_nutrition_policy": "reject"}
    ),
    ("GET", "/api/v1/hospitals"): Access(allow(*ROLES)),
    ("GET", "/api/v1/payers"): Access(allow("admin", "region")),
    ("GET", "/api/v1/settlements/{period}/journal/{side}.{fmt}"): Access(
        allow("region", "municipality"), foreign={"municipality": 404}
    ),
    ("PATCH", "/api/v1/payers/{cvr}"): Access(
        allow("admin"), body=lambda t: {"order_reference": "IV-AFTALE-2021"}
    ),
    ("GET", "/api/v1/tariffs"): Access(allow(*ROLES)),
    ("GET", "/api/v1/tariffs/{tariff_id}"): Access(allow(*ROLES)),
    ("POST", "/api/v1/tariffs"): Access(allow("admin"), body=lambda t: tariff_2021()),
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
    ("PATCH", "/api/v1/courses/{course_id}"): Access(
        allow("municipality"),
        foreign={"municipality": 404},
        fresh="course",
        body=lambda t: {"municipality_ref": "SAG-2024-0042"},
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
    # Transfers: the municipality that has the course proposes (the region moves it at once);
    # the receiving one answers, the sending one may withdraw. The other party of a transfer
    # sees it and is refused openly (403) when it tries the other party's step.
    ("POST", "/api/v1/courses/{course_id}/transfers"): Access(
        allow("municipality", "region"),
        foreign={"municipality": 404},
        fresh="course",
        body=lambda t: {"municipality_code": "101", "reason": "borgeren er flyttet"},
    ),
    ("GET", "/api/v1/transfers"): Access(allow("municipality", "region")),
    ("POST", "/api/v1/transfers/{transfer_id}/accept"): Access(
        allow("municipality"), foreign={"municipality": 403}, fresh="transfer_in"
    ),
    ("POST", "/api/v1/transfers/{transfer_id}/decline"): Access(
        allow("municipality"),
        foreign={"municipality": 403},
        fresh="transfer_in",
        body=lambda t: {"note": "ikke vores borger"},
    ),
    ("POST", "/api/v1/transfers/{transfer_id}/withdraw"): Access(
        allow("municipality"), foreign={"municipality": 403}, fresh="transfer_out"
    ),
    # Review holds: both read a period's held courses (a municipality its own); the region
    # releases (the shared course is held by none: 409, the role check is what counts).
    ("GET", "/api/v1/settlements/{period}/holds"): Access(
        allow("region", "municipality"), period="2024-04"
    ),
    ("POST", "/api/v1/courses/{course_id}/hold-release"): Access(
        allow("region"),
        fresh="held_course",
        body=lambda t: {"note": "gennemgået"},
    ),
    # Objections: a municipality raises them about its own courses, the region answers.
    ("POST", "/api/v1/objections"): Access(
        allow("municipality"),
        foreign={"municipality": 404},
        body=lambda t: {"course_id": t.course_id, "reason": "dates_wrong", "text": "slutdato"},
    ),
    ("GET", "/api/v1/objections"): Access(allow("municipality", "region")),
    ("GET", "/api/v1/objections/{objection_id}"): Access(
        allow("municipality", "region"), foreign={"municipality": 404}
    ),
    ("POST", "/api/v1/objections/{objection_id}/answer"): Access(
        allow("region"), body=lambda t: {"decision": "rejected", "note": "datoerne passer"}
    ),
    # Events: the region and the admin pull every event, a municipality only its own (the
    # filter by its code is tests/test_webhooks.py's); webhook endpoints are the admin's.
    ("GET", "/api/v1/events"): Access(allow("region", "admin", "municipality")),
    ("POST", "/api/v1/webhooks"): Access(
        allow("admin"),
        body=lambda t: {
            "url": f"https://oekonomi.example.dk/hooks/{uuid.uuid4().hex}",
            "event_types": ["statement.issued"],
        },
    ),
    ("GET", "/api/v1/webhooks"): Access(allow("admin")),
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): Access(allow("admin")),
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): Access(allow("admin")),
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
    # The draft of April, which the set-up approves (a retry of it is a 200).
    ("POST", "/api/v1/settlements/{period}/approval"): Access(allow("region"), period="2024-04"),
    ("GET", "/api/v1/settlements/{period}/approval"): Access(allow("region"), period="2024-04"),
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
