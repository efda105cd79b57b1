"""``/studies``: create, list, get, and the pause/resume/cancel actions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.api.deps import CallerDep, SessionDep, SettingsDep, StudyDep
from app.api.responses import API_ERRORS, BODY_ERRORS, CURSOR_PATTERN, problems
from app.models import StudyState, state_pattern
from app.schemas.study import StudiesPublic, StudyActionIn, StudyCreate, StudyPublic
from app.services import lifecycle
from app.services.studies import create_study, list_studies, study_public

router = APIRouter(prefix="/studies", tags=["studies"], responses=API_ERRORS)

LOCATION = {"Location": {"description": "The study's URL.", "schema": {"type": "string"}}}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=StudyPublic,
             responses={201: {"headers": LOCATION}, **BODY_ERRORS})
def post_study(
    body: StudyCreate, session: SessionDep, caller: CallerDep, settings: SettingsDep,
    response: Response,
) -> StudyPublic:
    """Create a study; a driver starts it within a poll interval."""
    study = create_study(session, body, caller.key_id, settings)
    response.headers["Location"] = f"/api/v1/studies/{study.id}"
    return study_public(study)


@router.get("", response_model=StudiesPublic)
def get_studies(
    session: SessionDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
    state: Annotated[str | None, Query(pattern=state_pattern(StudyState))] = None,
) -> StudiesPublic:
    return list_studies(session, caller.key_id, caller.scoped, limit, cursor, state)


@router.get("/{study_id:int}", response_model=StudyPublic, responses=problems(404))
def get_one(study: StudyDep) -> StudyPublic:
    return study_public(study)


@router.post("/{study_id:int}:{action}", response_model=StudyPublic,
             responses={**problems(404, 409), **BODY_ERRORS})
def act(study: StudyDep, action: str, session: SessionDep,
        body: StudyActionIn | None = None) -> StudyPublic:
    """``:pause``, ``:resume`` or ``:cancel`` (no body, or ``{}``); 409 when the study's state
    does not allow it."""
    lifecycle.apply_action(session, study, action)
    return study_public(study)
