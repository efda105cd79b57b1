"""Request dependencies as ``Annotated`` aliases: settings, database session, caller, study."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import Database
from app.core.errors import NotFoundError, UnauthorizedError
from app.core.security import KEY_PREFIX, key_prefix, verify_key
from app.models import ApiKey, Study
from app.services.studies import get_study


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_database(request: Request) -> Database:
    return request.app.state.db


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DatabaseDep = Annotated[Database, Depends(get_database)]


def get_session(db: DatabaseDep) -> Iterator[Session]:
    with db.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


class Caller:
    """Who is calling: an API key id, or nobody in open mode (``XBAR_AUTH=off``).

    ``is_admin``: the key may see and act on every study, including those of revoked keys.
    """

    def __init__(self, key_id: int | None, auth_on: bool, is_admin: bool = False) -> None:
        self.key_id = key_id
        self.auth_on = auth_on
        self.is_admin = is_admin

    @property
    def scoped(self) -> bool:
        """Whether the caller sees only studies owned by its key (auth on, not an admin)."""
        return self.auth_on and not self.is_admin


def get_caller(
    settings: SettingsDep,
    session: SessionDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Caller:
    """Raises:
        UnauthorizedError: auth is on and the Bearer key is missing, malformed or unknown.
    """
    if settings.auth == "off":
        return Caller(None, False)
    if not authorization or not authorization.lower().startswith("bearer "):
        raise UnauthorizedError("Send 'Authorization: Bearer <api key>' (create one with "
                                "`xbar keys create`).")
    key = authorization[7:].strip()
    if not key.startswith(KEY_PREFIX):
        raise UnauthorizedError("The API key is malformed.")
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == key_prefix(key)))
    if row is None or row.revoked_at is not None or not verify_key(key, row.key_hash):
        raise UnauthorizedError("The API key is unknown or revoked.")
    return Caller(row.id, True, row.is_admin)


CallerDep = Annotated[Caller, Depends(get_caller)]


MAX_ID = 2**31 - 1
"""Largest id a path or cursor may name (the PostgreSQL ``integer`` range)."""


def get_owned_study(
    study_id: Annotated[int, Path(ge=1, le=MAX_ID)], session: SessionDep, caller: CallerDep
) -> Study:
    """The study named in the path, if the caller may see it (its owner, or an admin key).

    Raises:
        NotFoundError: no such study, or it belongs to another key and the caller is no
            admin (the same answer, so a caller cannot learn which ids other tenants hold).
    """
    study = get_study(session, study_id)
    if caller.scoped and study.owner_key_id != caller.key_id:
        raise NotFoundError(f"No study with id {study_id}.")
    return study


StudyDep = Annotated[Study, Depends(get_owned_study)]
