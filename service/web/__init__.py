"""Server-rendered web pages in Danish for finance (region and municipalities).

`install(app)` adds the pages and their static files (one stylesheet) to the app. The
pages are outside the API contract (not in the OpenAPI document) and use the API's use
cases and access rules; see service.web.pages for sign-in and errors, service.web.session
for the session cookie and CSRF, service.web.charts for the SVG charts.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    from service.web.monitoring import router as monitoring_pages
    from service.web.router import router as pages

    app.include_router(pages)
    app.include_router(monitoring_pages)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
