"""The FastAPI application: ``create_app()`` wires settings, database, engine and driver."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.limits import RequestLimits
from app.api.request_id import RequestId, request_id
from app.api.responses import allowed_methods
from app.api.router import api_router
from app.api.routes import dashboard, health
from app.api.routes.metrics import install_metrics
from app.core.config import Settings, get_settings
from app.core.db import Database
from app.core.errors import PROBLEM_JSON, ValidationFailed, XbarError
from app.migrate import is_up_to_date

log = logging.getLogger(__name__)


def _problem_json(request: Request, exc: XbarError) -> JSONResponse:
    """``exc`` as an RFC 9457 response (:meth:`XbarError.problem`, the one rendering); a 5xx
    carries the request id and is logged with it."""
    body = exc.problem(str(request.url.path))
    if exc.status >= 500:
        body["request_id"] = request_id(request.scope)
        log.error("%s in %s %s (request %s)", type(exc).__name__, request.method,
                  request.url.path, body["request_id"], exc_info=exc.__cause__ or exc)
    return JSONResponse(body, status_code=exc.status, media_type=PROBLEM_JSON,
                        headers=exc.headers or None)


def _http_error(exc: StarletteHTTPException) -> XbarError:
    """A routing error of Starlette (404 no such path, 405...) as an :class:`XbarError` of its
    status (generic problem type ``about:blank``)."""
    error = XbarError(str(exc.detail))
    error.status, error.title = exc.status_code, str(exc.detail)
    error.headers = dict(exc.headers or {})
    return error


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(XbarError)
    async def _xbar(request: Request, exc: XbarError) -> JSONResponse:
        return _problem_json(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            loc, msg = list(e.get("loc", ())), e.get("msg", "")
            if e.get("type") == "json_invalid":  # loc holds a character offset, not a field
                msg = f"malformed JSON at character {loc[-1]}: {e.get('ctx', {}).get('error', msg)}"
                loc = ["body"]
            errors.append({"loc": loc, "msg": msg, "type": e.get("type", "")})
        fields = ", ".join(".".join(str(p) for p in e["loc"][1:]) or "body" for e in errors)
        if errors and errors[0]["type"] == "json_invalid":
            fields = f"body ({errors[0]['msg']})"
        return _problem_json(request, ValidationFailed(f"Invalid field(s): {fields}",
                                                       errors=errors))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        error = XbarError(f"An internal error occurred; quote request id "
                          f"{request_id(request.scope)}.")
        error.type_, error.__cause__ = "/problems/internal", exc
        return _problem_json(request, error)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error = _http_error(exc)
        if exc.status_code == 405:  # RFC 9110: name every method the path has
            error.headers["Allow"] = allowed_methods(request)
        return _problem_json(request, error)


def _publish_registries(app: FastAPI) -> None:
    """Make the OpenAPI schema state what the registries hold when it is built: the study body
    exact per problem (:func:`app.schemas.study_schema.publish_study_schema`: problems,
    objectives, options, crossbar fields and methods from their declarations, and this
    server's caps), so a generator of schema-valid bodies only sends ones creation accepts."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        from app.problems import problem_names
        from app.schemas.study_schema import publish_study_schema
        from optimizer.suggest import available_methods

        spec = build()
        schemas = spec["components"]["schemas"]
        # the generic components (no longer what the body refers to) name the registries too
        schemas["ProblemIn"]["properties"]["name"]["enum"] = problem_names()
        method = schemas["OptimizerIn"]["properties"]["method"]
        for branch in method.get("anyOf", [method]):
            if branch.get("type") == "string":
                branch["enum"] = sorted(available_methods())
        publish_study_schema(schemas, app.state.settings)
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None, *, engine: Any = None) -> FastAPI:
    """Build the app.

    Args:
        settings: defaults to the environment (``XBAR_*``).
        engine: a started :class:`~app.execution.engine.DaskEngine` to use; by default one is
            started at start-up when ``settings.run_driver`` (and closed at shutdown).
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.database_url, pool_size=settings.pool_size,
                      max_overflow=settings.max_overflow)
        if not is_up_to_date(db.engine):
            db.dispose()
            raise RuntimeError(
                f"The database at {settings.database_url} is not at the latest migration: run "
                "`alembic upgrade head` (or `make run`, which does it)."
            )
        app.state.db = db
        app.state.settings = settings
        own_engine = None
        driver = None
        if settings.run_driver:
            from app.execution.clusters import make_engine
            from app.execution.driver import StudyDriver

            eng = engine
            if eng is None:
                own_engine = eng = make_engine(settings)
            app.state.engine = eng
            driver = StudyDriver(db, eng, settings)
            driver.start()
            app.state.driver = driver
        try:
            yield
        finally:
            if driver is not None:
                driver.stop(release=True)
            if own_engine is not None:
                own_engine.close()
            db.dispose()

    app = FastAPI(
        title="xbar-dse",
        version="0.1.0",
        description="Multi-objective design-space exploration of ReRAM crossbar accelerators.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    _install_error_handlers(app)
    _publish_registries(app)
    app.include_router(health.router)
    app.include_router(api_router)
    app.include_router(dashboard.router)
    install_metrics(app)
    app.add_middleware(RequestLimits, max_body_bytes=settings.max_body_bytes,
                       max_json_depth=settings.max_json_depth,
                       path_limits={"/api/v1/workloads": 2 * settings.max_upload_bytes
                                    + settings.max_body_bytes})
    app.add_middleware(RequestId)  # outermost: every response, even a 413, carries the id
    return app
