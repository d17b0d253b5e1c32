"""API clients for the tests: keys made through the service's one home for clients
(`service.access.clients.add_client`), and httpx clients that call the app in process."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI

from service.access.clients import NewClient, add_client
from service.kit.settings import Settings
from service.main import create_app
from tests.support.problem_record import recording

BASE_URL = "http://ivsettle.test"


@dataclass
class Api:
    """An HTTP client for one API key."""

    client: httpx.AsyncClient
    role: str
    org: str | None
    client_id: uuid.UUID

    async def get(self, url: str, **kw: object) -> httpx.Response:
        return await self.client.get(url, **kw)  # type: ignore[arg-type]

    async def post(self, url: str, **kw: object) -> httpx.Response:
        return await self.client.post(url, **kw)  # type: ignore[arg-type]

    async def put(self, url: str, **kw: object) -> httpx.Response:
        return await self.client.put(url, **kw)  # type: ignore[arg-type]

    async def patch(self, url: str, **kw: object) -> httpx.Response:
        return await self.client.patch(url, **kw)  # type: ignore[arg-type]


MakeApi = Callable[..., Awaitable[Api]]
"""The `api` fixture: `await api("municipality", "157")` → an `Api` with a fresh key."""


async def add_key(
    app: FastAPI,
    name: str,
    role: str,
    org: str | None,
    now: datetime,
    *,
    check_org: bool = True,
) -> NewClient:
    """Store a client in the app's database, committed, and return it with its key."""
    async with app.state.sessionmaker() as session:
        new = await add_client(session, name, role, org, now, check_org=check_org)
        await session.commit()
    return new


def asgi_client(
    app: FastAPI,
    key: str,
    *,
    event_hooks: dict[str, list[Callable[..., Any]]] | None = None,
    raise_app_exceptions: bool = True,
) -> httpx.AsyncClient:
    """An httpx client that sends `key` as its bearer token to `app`, in process."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(
            app=recording(app), raise_app_exceptions=raise_app_exceptions
        ),
        base_url=BASE_URL,
        headers={"Authorization": f"Bearer {key}"},
        event_hooks=event_hooks,
    )


async def new_api(
    app: FastAPI,
    name: str,
    role: str,
    org: str | None,
    now: datetime,
    *,
    event_hooks: dict[str, list[Callable[..., Any]]] | None = None,
) -> Api:
    """A client stored as `add_key` does, and an `Api` that calls `app` with its key."""
    new = await add_key(app, name, role, org, now)
    return Api(asgi_client(app, new.key, event_hooks=event_hooks), role, org, new.client.id)


async def status_of(settings: Settings, path: str, key: str) -> int:
    """The status of `GET path` with `key`, from an app of its own for `settings`."""
    app = create_app(settings)
    try:
        async with asgi_client(app, key) as client:
            response = await client.get(path)
    finally:
        await app.state.engine.dispose()
    return response.status_code
