"""``/studies``: create (or only validate), list, get, delete, and the pause/resume/cancel
actions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.api.deps import (
    CallerDep,
    DatabaseDep,
    SessionDep,
    SettingsDep,
    StudyDep,
    StudyId,
    in_owned_study,
)
from app.api.responses import API_ERRORS, BODY_ERRORS, CURSOR_PATTERN, problems
from app.models import StudyState, state_pattern
from app.schemas.study import StudiesPublic, StudyActionIn, StudyCreate, StudyPublic
from app.services import lifecycle
from app.services.studies import create_study, list_studies, study_public, validate_definition
from app.services.workloads import study_files

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


@router.post(":validate", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
             responses={204: {"description": "The definition is valid."}, **BODY_ERRORS})
def validate_study(body: StudyCreate, session: SessionDep, caller: CallerDep,
                   settings: SettingsDep) -> Response:
    """Check a study definition exactly as ``POST /studies`` does (422 listing every bad
    field), without storing anything."""
    validate_definition(body, settings, study_files(session, caller.key_id, settings))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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
async def get_one(study_id: StudyId, db: DatabaseDep, caller: CallerDep) -> StudyPublic:
    return await in_owned_study(db, study_id, caller, lambda _, study: study_public(study))


@router.delete("/{study_id:int}", status_code=status.HTTP_204_NO_CONTENT,
               response_class=Response, responses={204: {"description": "Deleted."},
                                                   **problems(404)})
def delete_one(study: StudyDep, session: SessionDep) -> Response:
    """Delete a study with its trials, results and events; an active study is cancelled
    first. Only its owner (or an admin key) may; afterwards every request for it is 404."""
    lifecycle.delete_study(session, study)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{study_id:int}:{action}", response_model=StudyPublic,
             responses={**problems(404, 409), **BODY_ERRORS})
def act(study: StudyDep, action: str, session: SessionDep,
        body: StudyActionIn | None = None) -> StudyPublic:
    """``:pause``, ``:resume`` or ``:cancel`` (no body, or ``{}``); 409 when the study's state
    does not allow it."""
    lifecycle.apply_action(session, study, action)
    return study_public(study)
