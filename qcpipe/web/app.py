"""The web workspace: a FastAPI app over the same services the CLI calls.

    create_app(settings) → FastAPI     (`qcpipe serve` runs it under uvicorn)

Pages are rendered on the server (Jinja2, autoescaped); the call page's player and keyboard are
a small plain script. The JSON API under /api/ has the same session, permissions and CSRF rule.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from qcpipe.config import Settings
from qcpipe.errors import NotFoundError, QcpipeError, StoreError
from qcpipe.review import ReviewError
from qcpipe.store import Database, open_database
from qcpipe.web import admin, api, library, monthly, pages, rulebooks, whatif
from qcpipe.web.render import render_error
from qcpipe.web.security import LoginRequired, login_redirect

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
# Every router of the app: the permission table (tests/web/test_permissions.py) walks these.
ROUTERS = (pages.router, api.router, monthly.router, monthly.api_router, library.router, rulebooks.router, whatif.router,
           whatif.api_router, admin.router)


def create_app(settings: Settings, store: Database | None = None) -> FastAPI:
    """The app over `settings.db_url` (or an open `store`), its schema brought up to date."""
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.store.dispose()

    app = FastAPI(lifespan=lifespan, title="qcpipe", summary="Quality monitoring for Mandarin call centers: the JSON API of the web "
                  "workspace (same session, permissions and CSRF header as the pages).",
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.store = store or open_database(settings.db_url)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)

    @app.middleware("http")
    async def blank_fields_are_absent(request: Request, call_next):  # type: ignore[no-untyped-def]
        # A filter form sent by GET carries its empty fields (date_from=&agent=): an empty
        # filter is no filter, not a malformed date.
        if request.method == "GET" and request.scope.get("query_string"):
            pairs = parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True)
            if any(value == "" for _, value in pairs):
                request.scope["query_string"] = urlencode([(k, v) for k, v in pairs if v != ""]).encode("ascii")
        return await call_next(request)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; media-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'",
        )
        if request.url.path != "/login" and not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")  # a shared PC keeps no call in its cache
        return response

    def _is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "log in first"}, status_code=401)
        return login_redirect(request)

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> Response:
        return _error(request, 404, str(exc))

    @app.exception_handler(ReviewError)
    async def _refused(request: Request, exc: ReviewError) -> Response:
        return _error(request, 409, str(exc))

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> Response:
        log.error("database: %s", exc)
        return _error(request, 503, "the database is busy or unavailable; try again in a moment")

    @app.exception_handler(QcpipeError)
    async def _bad(request: Request, exc: QcpipeError) -> Response:
        return _error(request, 400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors())
        return _error(request, 422, f"bad request: {where}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail))

    def _error(request: Request, status: int, message: str) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": message}, status_code=status)
        return render_error(request, status, message)

    return app
