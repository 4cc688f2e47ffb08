"""The quartet web app: ``create_app(...)`` builds it; ``quartet serve`` runs it.

Each system contributes a subpackage with ``ROUTERS`` (its APIs, one per capability) and
``PAGES`` (URL -> static page); this module includes them, so adding PRM or denoising pages
is one more import in ``SYSTEMS`` (InfoPattern, PRM, refusal and denoising today). Browser libraries are served from ``node_modules`` (npm
packages installed by the setup) under ``/vendor``, only the files named in ``VENDOR``.

Security: pages set a Content-Security-Policy without inline scripts (all page code is in
``static/``, and every message text is put in the page as text, never as HTML); unexpected
errors return a generic JSON message and the trace goes to the log only.
"""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from quartet.web import denoise, infopattern, prm, refusal
from quartet.web.jobs import JobManager
from quartet.web.services import Services, load_services

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
SYSTEMS = {"infopattern": infopattern, "prm": prm, "refusal": refusal, "denoise": denoise}
# URL name -> path inside node_modules.
VENDOR = {
    "cytoscape.min.js": "cytoscape/dist/cytoscape.min.js",
    "swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
    "swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def node_modules() -> Path:
    """``$QUARTET_NODE_MODULES``, else the repository's ``node_modules`` (src layout), else ``./node_modules``."""
    if os.environ.get("QUARTET_NODE_MODULES"):
        return Path(os.environ["QUARTET_NODE_MODULES"])
    repo = Path(__file__).resolve().parents[3] / "node_modules"
    return repo if repo.is_dir() else Path.cwd() / "node_modules"


def create_app(
    runs: Path | None = None, data_dir: Path | None = None, services: Services | None = None,
    stance_dir: Path | None = None, switch_dir: Path | None = None, picks: dict[str, Path | None] | None = None,
) -> FastAPI:
    """The app. Pass ``services`` to inject models (tests); else they are loaded from ``runs`` at startup
    (``picks``: ``{"prm" | "refusal" | "denoise": run folder}`` instead of the first one found)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        svc = services or load_services(runs, (data_dir or Path("runs/web")).resolve(), stance_dir, switch_dir,
                                            picks)
        svc.data_dir = Path(svc.data_dir).resolve()
        svc.jobs = svc.jobs or JobManager(svc)
        app.state.services = svc
        yield
        svc.jobs.shutdown()

    app = FastAPI(title="quartet", description="Research systems as software: APIs behind the pages",
                  docs_url=None, redoc_url=None, lifespan=lifespan)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        if not request.url.path.startswith("/docs"):
            response.headers["Content-Security-Policy"] = CSP
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        # Field paths and reasons only: the default echoes the submitted input back.
        problems = [f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()]
        return JSONResponse({"detail": "; ".join(problems)}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse({"detail": "internal error (the server log has the details)"}, status_code=500)

    for system in SYSTEMS.values():
        for router in system.ROUTERS:
            app.include_router(router)
        for url, (page, _title) in system.PAGES.items():
            app.add_api_route(url, _page(STATIC / page), include_in_schema=False, methods=["GET"])

    @app.get("/api/pages", tags=["app"], summary="The pages of every system (for the navigation bar)")
    def pages() -> list[dict[str, str]]:
        return [{"system": name, "url": url, "title": title}
                for name, system in SYSTEMS.items() for url, (_, title) in system.PAGES.items()]

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/vendor/{name}", include_in_schema=False)
    def vendor(name: str) -> FileResponse:
        if name not in VENDOR:
            raise HTTPException(404, "not a vendored file")
        path = node_modules() / VENDOR[name]
        if not path.is_file():
            raise HTTPException(404, f"{VENDOR[name]} is missing: run `npm ci` in the repository root")
        return FileResponse(path)

    @app.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="quartet API",
                                   swagger_js_url="/vendor/swagger-ui-bundle.js",
                                   swagger_css_url="/vendor/swagger-ui.css", swagger_favicon_url="/static/favicon.svg")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _page(path: Path):
    def page() -> FileResponse:
        return FileResponse(path, media_type="text/html")
    return page
