"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from app.api.deps import DatabaseDep
from app.api.responses import problems
from app.migrate import is_up_to_date

router = APIRouter(tags=["health"], responses=problems(500))


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str]
    """``database`` and ``engine``: ``ok``, or why not."""


@router.get("/healthz", response_model=Liveness)
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness,
            responses={503: {"model": Readiness, "description": "Not ready (see ``checks``)."}})
def readyz(request: Request, db: DatabaseDep) -> JSONResponse:
    """Ready when the database answers at the latest migration and the engine has workers."""
    checks: dict[str, str] = {}
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok" if is_up_to_date(db.engine) else "migrations pending"
    except Exception as e:  # report, don't crash the probe
        checks["database"] = f"error: {e.__class__.__name__}"
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        checks["engine"] = "not started (XBAR_RUN_DRIVER=false)"
    else:
        try:
            checks["engine"] = f"ok ({engine.n_workers()} workers)"
        except Exception as e:
            checks["engine"] = f"error: {e.__class__.__name__}"
    ready = checks["database"] == "ok" and not checks["engine"].startswith("error")
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503)
