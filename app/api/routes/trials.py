"""``/studies/{id}/trials`` and ``/studies/{id}/pareto``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response

from app.api.deps import MAX_ID, SessionDep, StudyDep
from app.api.responses import API_ERRORS, CURSOR_PATTERN, problems
from app.models import TrialState, state_pattern
from app.schemas.trial import ParetoPublic, TrialPublic, TrialsPublic
from app.services.studies import get_trial, list_trials, pareto_front

router = APIRouter(prefix="/studies/{study_id}", tags=["trials"],
                   responses={**API_ERRORS, **problems(404)})

ETAG = {"ETag": {"description": "The front's version; send it back in ``If-None-Match``.",
                 "schema": {"type": "string"}}}


@router.get("/trials", response_model=TrialsPublic)
def trials(
    study: StudyDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
    state: Annotated[str | None, Query(pattern=state_pattern(TrialState))] = None,
    min_fidelity: Annotated[float | None, Query(ge=0, le=1)] = None,
    details: bool = False,
) -> TrialsPublic:
    """Trials by number, ``limit`` per page; follow ``next_cursor`` for the next page."""
    return list_trials(session, study.id, limit, cursor, state, min_fidelity, details)


@router.get("/trials/{number}", response_model=TrialPublic)
def trial(study: StudyDep, session: SessionDep,
          number: Annotated[int, Path(ge=0, le=MAX_ID)]) -> TrialPublic:
    return get_trial(session, study.id, number)


@router.get("/pareto", response_model=ParetoPublic,
            responses={200: {"headers": ETAG},
                       304: {"description": "Unchanged since the ETag sent.", "headers": ETAG}})
def pareto(
    study: StudyDep,
    session: SessionDep,
    response: Response,
    if_none_match: Annotated[str | None, Header()] = None,
) -> ParetoPublic | Response:
    """The full-fidelity Pareto front with its hypervolume. Send the ETag back in
    ``If-None-Match``: an unchanged front answers 304 without a body or a front query."""
    etag = f'W/"study-{study.id}-pareto-{study.pareto_version}"'
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers={"ETag": etag})
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "no-cache"
    return pareto_front(session, study)
