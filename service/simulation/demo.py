"""The demo a newcomer sees with `./scripts/serve`: a simulated region, settled for the
last few months, and demo API keys printed at every start.

Only for the embedded default: it fills an empty database through `ivsettle simulate`'s
use cases, and keeps the demo keys in a local file (keys are otherwise shown only once).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from service.access.clients import create_client
from service.domain.parties import gln_check_digit
from service.domain.settlement import Period
from service.kit.clock import Clock
from service.kit.db import standalone_session
from service.kit.settings import Settings
from service.models import Course, Municipality, Payer

DEMO_KEYS_FILE = Path("ivsettle-demo-keys.json")
DEMO_MONTHS = 6
DEMO_SCALE = 0.1
DEMO_SOURCE = "demo value: made up, not the organisation's own (set the real one before sending)"
DEMO_CLIENTS = (
    ("Demo: regionens økonomi", "region", None),
    ("Demo: regionens controller (godkender)", "region", None),
    ("Demo: drift", "admin", None),
    ("Demo: Herlev og Gentofte Hospital EPJ", "hospital", "HGH"),
    ("Demo: Gentofte Kommune omsorgssystem", "municipality", "157"),
    ("Demo: Københavns Kommune omsorgssystem", "municipality", "101"),
)


def demo_months(today_period: Period, day_of_month: int) -> tuple[Period, Period]:
    """The simulated months: the last ones already issued by now (a month is issued on
    the 3rd-6th of the next), DEMO_MONTHS of them."""
    last = today_period.previous() if day_of_month >= 7 else today_period.previous().previous()
    first = last
    for _ in range(DEMO_MONTHS - 1):
        first = first.previous()
    return first, last


def _demo_gln(serial: int) -> str:
    body = f"579999{serial:06d}"
    return body + str(gln_check_digit(body))


async def _demo_master_data(settings: Settings) -> None:
    """Made-up master data, marked as demo values, so the demo's e-invoices can be made;
    a real value (one with another source) is never overwritten."""
    async with standalone_session(settings) as session:
        for m in (await session.scalars(select(Municipality))).all():
            if m.cvr is None:
                m.legal_name = f"{m.name} Kommune (demo)"
                m.cvr, m.gln = f"99{int(m.code):06d}", _demo_gln(int(m.code))
                m.street_name, m.building_number = "Demovej", m.code
                m.postal_zone, m.city_name, m.master_data_source = "9999", "Demoby", DEMO_SOURCE
        for serial, p in enumerate((await session.scalars(select(Payer))).all(), start=900):
            if p.gln is None:
                p.gln, p.street_name, p.building_number = _demo_gln(serial), "Demovej", "1"
                p.postal_zone, p.city_name = "9999", "Demoby"
                p.order_reference, p.accounting_cost = "DEMO-IV-2021", "DEMO-KONTO"
                p.contact_reference, p.master_data_source = "DEMO-IV", DEMO_SOURCE
        await session.commit()


async def _has_courses(settings: Settings) -> bool:
    async with standalone_session(settings) as session:
        return bool(await session.scalar(select(func.count()).select_from(Course)))


def prepare_demo(settings: Settings, say: Callable[[str], None]) -> tuple[Period, dict[str, str]]:
    """Fill an empty database with a settled demo region; return the last settled month
    and the demo keys (name → key)."""
    from service.simulation.plan import SimulationOptions
    from service.simulation.run import simulate

    today = Clock(settings.now).today()
    first, last = demo_months(Period.of(today), today.day)
    if not asyncio.run(_has_courses(settings)):
        say(
            f"demo: simulating the region {first}..{last} (scale {DEMO_SCALE}); about half a minute"
        )
        months = (last.year - first.year) * 12 + last.month - first.month + 1
        options = SimulationOptions(first, months, 5700, DEMO_SCALE, 1, True)
        summary = asyncio.run(simulate(settings, options, progress=lambda _line: None))
        for line in summary.lines():
            say(f"demo: {line}")
        asyncio.run(_demo_master_data(settings))
        say("demo: master data of the e-invoices set to demo values (marked as such)")
    keys: dict[str, str] = {}
    if DEMO_KEYS_FILE.exists():
        keys = json.loads(DEMO_KEYS_FILE.read_text(encoding="utf-8"))
    else:
        for name, role, org in DEMO_CLIENTS:
            keys[name] = asyncio.run(create_client(settings, name, role, org))
        fd = os.open(DEMO_KEYS_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(keys, handle, ensure_ascii=False, indent=2)
    return last, keys
