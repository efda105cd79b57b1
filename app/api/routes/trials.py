"""``/studies/{id}/trials`` and ``/studies/{id}/pareto``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State

from app.api.deps import (
    MAX_ID,
    Caller,
    CallerDep,
    DatabaseDep,
    StudyId,
    check_owner,
    in_owned_study,
)
from app.api.responses import API_ERRORS, CURSOR_PATTERN, problems
from app.core.db import Database
from app.core.errors import ConflictError
from app.execution.confirm import has_model
from app.execution.predicted import predicted_fronts
from app.models import Study, TrialState, state_pattern
from app.schemas.trial import ParetoPublic, PredictedParetoPublic, TrialPublic, TrialsPublic
from app.services.studies import FrontBodies, front_head, front_json, get_trial, list_trials

router = APIRouter(prefix="/studies/{study_id}", tags=["trials"],
                   responses={**API_ERRORS, **problems(404)})

RETRY_AFTER_S = 1
"""``Retry-After`` of a 202 (predicted front computing) [s]."""

RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before asking again.",
                               "schema": {"type": "integer"}}}

ETAG = {"ETag": {"description": "The front's version; send it back in ``If-None-Match``.",
                 "schema": {"type": "string"}}}


@router.get("/trials", response_model=TrialsPublic)
async def trials(
    study_id: StudyId,
    db: DatabaseDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
    state: Annotated[str | None, Query(pattern=state_pattern(TrialState))] = None,
    min_fidelity: Annotated[float | None, Query(ge=0, le=1)] = None,
    details: bool = False,
) -> TrialsPublic:
    """Trials by number, ``limit`` per page; follow ``next_cursor`` for the next page."""
    return await in_owned_study(db, study_id, caller, lambda session, study: list_trials(
        session, study.id, limit, cursor, state, min_fidelity, details))


@router.get("/trials/{number}", response_model=TrialPublic)
async def trial(number: Annotated[int, Path(ge=0, le=MAX_ID)], study_id: StudyId,
                db: DatabaseDep, caller: CallerDep) -> TrialPublic:
    return await in_owned_study(db, study_id, caller,
                                lambda session, study: get_trial(session, study.id, number))


PARETO_SOURCE = Literal["evaluated", "predicted"]


@router.get("/pareto", response_model=ParetoPublic | PredictedParetoPublic,
            responses={200: {"headers": ETAG},
                       202: {"model": PredictedParetoPublic,
                             "description": "``source=predicted``: computing on a worker; "
                                            "ask again after ``Retry-After`` seconds.",
                             "headers": RETRY_AFTER},
                       304: {"description": "Unchanged since the ETag sent.", "headers": ETAG},
                       **problems(409)})
async def pareto(
    request: Request,
    study_id: StudyId,
    db: DatabaseDep,
    caller: CallerDep,
    response: Response,
    source: PARETO_SOURCE = "evaluated",
    if_none_match: Annotated[str | None, Header()] = None,
) -> ParetoPublic | PredictedParetoPublic | Response:
    """``source=evaluated`` (default): the full-fidelity Pareto front of the completed trials
    with its hypervolume. ``source=predicted``: the Pareto set of the model's posterior mean at
    the target fidelity (model-based methods only, else 409), each point with predicted means
    and standard deviations; never mixed with evaluated results. Computed on a worker: 202
    with ``status: "computing"`` until ready, then 200 with ``status: "ready"``. Send the ETag
    back in ``If-None-Match``: an unchanged front answers 304 without a body."""
    if source == "predicted":
        return await in_owned_study(db, study_id, caller, lambda session, study: _predicted(
            request, session, study, response, if_none_match))
    return await run_in_threadpool(_evaluated, request.app.state, db, study_id, caller,
                                   if_none_match)


def _matches(if_none_match: str | None, etag: str) -> bool:
    return bool(if_none_match) and etag in [t.strip() for t in if_none_match.split(",")]


def _etag(study_id: int, version: int) -> str:
    return f'W/"study-{study_id}-pareto-{version}"'


def _front_bodies(state: State) -> FrontBodies:
    """The app's cache of front bodies (made on first use)."""
    bodies = getattr(state, "front_bodies", None)
    if bodies is None:
        bodies = state.front_bodies = FrontBodies()
    return bodies


def _evaluated(state: State, db: Database, study_id: int, caller: Caller,
               if_none_match: str | None) -> Response:
    """The evaluated front's response: 304 if ``if_none_match`` names its version, else its
    body, serialized once per version (:class:`FrontBodies`) and sent as is (identical to
    what the ``ParetoPublic`` response model gives)."""
    bodies = _front_bodies(state)
    with db.session() as session:
        head = front_head(session, study_id)
        check_owner(study_id, head.owner_key_id, caller)
        etag = _etag(study_id, head.pareto_version)
        if _matches(if_none_match, etag):
            return Response(status_code=304, headers={"ETag": etag})
        body = bodies.get(study_id, head.created_at, head.pareto_version)
        if body is None:
            version, body = front_json(session, study_id, bodies)
            etag = _etag(study_id, version)
    return Response(body, media_type="application/json",
                    headers={"ETag": etag, "Cache-Control": "no-cache"})


def _predicted(request: Request, session: Session, study: Study, response: Response,
               if_none_match: str | None) -> PredictedParetoPublic | Response:
    if not has_model(study.method):
        raise ConflictError(f"Study {study.id} uses method {study.method!r}, which fits no "
                            "model, so it has no predicted front; use source=evaluated.")
    prediction = predicted_fronts(request.app.state).lookup(session, study)
    body = PredictedParetoPublic(
        study_id=study.id, status="computing" if prediction.result is None else "ready",
        n_observations=prediction.n_observations, target_fidelity=study.target_fidelity,
        objectives=study.objectives,
        points=prediction.result["points"] if prediction.result is not None else [],
    )
    response.headers["Cache-Control"] = "no-cache"
    if prediction.result is None:
        response.status_code = 202
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return body
    etag = f'W/"study-{study.id}-predicted-{prediction.n_observations}"'
    if _matches(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    response.headers["ETag"] = etag
    return body
