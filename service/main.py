"""The FastAPI application: routers, error handlers, middleware, engine and sessionmaker."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from service import __version__
from service.access.vault import load_vault
from service.course.router import router as course_router
from service.errors import install_error_handlers
from service.events.delivery import DeliveryWorker, in_background
from service.events.router import router as events_router
from service.kit.clock import Clock
from service.kit.db import create_engine, create_sessionmaker
from service.kit.nul import NulRefusalMiddleware
from service.kit.openapi_responses import install as document_problems
from service.kit.reference_cache import ReferenceCache
from service.kit.requestctx import (
    AccessLogMiddleware,
    BodySizeLimitMiddleware,
    NoStoreMiddleware,
    RequestIdMiddleware,
    RouteNoteMiddleware,
    scrub_access_log,
    trusted_proxy_list,
)
from service.kit.retry import TransactionRetryMiddleware
from service.kit.settings import Settings, get_settings, load_accounts
from service.monitoring.router import router as monitoring_router
from service.objection.router import router as objection_router
from service.reference.router import router as reference_router
from service.referral.router import router as referral_router
from service.settlement.router import router as settlement_router
from service.tariff.router import router as tariff_router
from service.visit.router import router as visit_router
from service.web import install as install_web_pages

DESCRIPTION = """
Records municipal IV-treatment courses in the Capital Region of Denmark and settles them
month by month between the region and its 29 municipalities, by the tariff of *Aftale om
IV-behandling i kommunalt regi* (2021).

Authenticate with `Authorization: Bearer <api key>` (keys come from `ivsettle clients create`).
Errors are `application/problem+json` (RFC 9457) with a stable `code`.
"""


# Operations whose function name alone would be a noun: the id says what it does.
_OPERATION_IDS = {
    "monitoring": "getMonitoring",
    "monitoring_file": "getMonitoringFile",
    "region_summary": "getRegionSummary",
    "region_summary_file": "getRegionSummaryFile",
    "statement_file": "getStatementFile",
    "staircase": "getStaircase",
}


def operation_id(route: APIRoute) -> str:
    """A short, stable operationId (`getStatement`, `issuePeriod`): the route function's
    name in camelCase, so generated clients get short names instead of FastAPI's default
    of name + path + method."""
    if route.name in _OPERATION_IDS:
        return _OPERATION_IDS[route.name]
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = create_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scrub_access_log()  # after the server has configured its logging
        async with contextlib.AsyncExitStack() as stack:
            if settings.webhooks:
                await stack.enter_async_context(in_background(delivery_worker(app)))
            yield
        await engine.dispose()

    app = FastAPI(
        title="ivsettle",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.clock = Clock(settings.now)
    app.state.vault = load_vault(settings)
    app.state.reference = ReferenceCache()
    app.state.accounts = load_accounts(settings.accounts_file)

    install_error_handlers(app)
    document_problems(app)
    app.add_middleware(RouteNoteMiddleware)  # innermost: for the access log
    # Innermost of the three: the body it buffers for a replay is already size-capped.
    app.add_middleware(TransactionRetryMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    # NUL outside the body, for all but /api/ (whose door is `require`); inside
    # RequestIdMiddleware, so a refused request has its id.
    app.add_middleware(NulRefusalMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(NoStoreMiddleware)  # every API answer, a 413 or 503 too
    app.add_middleware(AccessLogMiddleware)  # route template and redacted query only
    # Outermost: the client address every layer sees, from X-Forwarded-For only when the
    # peer is a configured proxy (default: none).
    app.add_middleware(
        ProxyHeadersMiddleware, trusted_hosts=trusted_proxy_list(settings.trusted_proxies)
    )
    for router in (
        reference_router,
        tariff_router,
        referral_router,
        course_router,
        visit_router,
        settlement_router,
        monitoring_router,
        objection_router,
        events_router,
    ):
        app.include_router(router)
    install_web_pages(app)  # HTML pages and /static, outside the OpenAPI document
    return app


def delivery_worker(app: FastAPI) -> DeliveryWorker:
    """The app's webhook delivery worker, on its sessions and clock (tests drive one)."""
    settings: Settings = app.state.settings
    return DeliveryWorker(
        app.state.sessionmaker,
        app.state.clock,
        settings.retry_schedule,
        settings.webhook_timeout_seconds,
        settings.webhook_poll_seconds,
    )
