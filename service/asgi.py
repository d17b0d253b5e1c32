"""The ASGI application for process managers (`uvicorn service.asgi:app`), configured from
the environment. `ivsettle serve` migrates first; with this entry point, run
`ivsettle migrate` before starting workers."""

from service.main import create_app

app = create_app()
