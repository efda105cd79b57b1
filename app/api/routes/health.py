"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from app.api.deps import DatabaseDep
from app.api.responses import Problem, problems
from app.core.errors import PROBLEM_JSON
from app.migrate import is_up_to_date

ENGINE_PROBE_TIMEOUT_S = 1.0
"""Bound on asking the Dask scheduler for its workers [s]: the probe answers quickly."""

router = APIRouter(tags=["health"], responses=problems(500))


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    checks: dict[str, str]
    """``database`` and ``engine``: ``ok`` (the engine with its live worker count)."""


class NotReady(Problem):
    """A 503 problem document naming each failing check."""

    checks: dict[str, str]
    """``database`` and ``engine``: ``ok``, or why not."""


@router.get("/healthz", response_model=Liveness)
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness,
            responses={503: {"description": "Not ready: the database, the Dask scheduler or its "
                                            "workers cannot be reached (see ``checks``).",
                             "content": {PROBLEM_JSON: {"schema": NotReady.model_json_schema()}}}})
def readyz(request: Request, db: DatabaseDep) -> JSONResponse:
    """Ready when the database answers at the latest migration and the Dask scheduler answers
    with at least one worker (each check bounded: a lost scheduler or database gives a 503
    within about a second)."""
    checks: dict[str, str] = {}
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok" if is_up_to_date(db.engine) else "migrations pending"
    except Exception as e:  # report, don't crash the probe
        checks["database"] = f"error: {e.__class__.__name__}"
    engine = getattr(request.app.state, "engine", None)
    engine_ok = True
    if engine is None:
        checks["engine"] = "not started (XBAR_RUN_DRIVER=false)"
    else:
        engine_ok, checks["engine"] = engine.readiness(ENGINE_PROBE_TIMEOUT_S)
        if not engine_ok:
            checks["engine"] = f"error: {checks['engine']}"
    ready = checks["database"] == "ok" and engine_ok
    if ready:
        return JSONResponse({"status": "ready", "checks": checks})
    return JSONResponse(
        {"type": "/problems/not-ready", "title": "Not ready", "status": 503,
         "detail": "; ".join(f"{k}: {v}" for k, v in checks.items()),
         "instance": str(request.url.path), "checks": checks},
        status_code=503, media_type=PROBLEM_JSON, headers={"Retry-After": "5"})
