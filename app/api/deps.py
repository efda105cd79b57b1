"""Request dependencies as ``Annotated`` aliases: settings, database session, caller, study.

The ones that touch no database are ``async``: FastAPI runs a plain ``def`` dependency in its
thread pool, one hop per dependency, each costing a GIL hand-over and scheduling. The caller
is resolved without a hop when auth is off and with one short session of its own (in the
pool) when on. :func:`in_owned_study` runs a whole read in one hop, for the hot GET routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Path, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.core.config import Settings
from app.core.db import Database
from app.core.errors import NotFoundError, UnauthorizedError
from app.core.security import KEY_PREFIX, key_prefix, verify_key
from app.models import ApiKey, Study
from app.services.studies import get_study

T = TypeVar("T")


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_database(request: Request) -> Database:
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


def _key_caller(db: Database, key: str) -> Caller | None:
    """The caller of a well-formed ``key``, or ``None`` if it is unknown or revoked (one short
    session; blocking: run it in the thread pool)."""
    with db.session() as session:
        row = session.execute(
            select(ApiKey.id, ApiKey.revoked_at, ApiKey.key_hash, ApiKey.is_admin)
            .where(ApiKey.prefix == key_prefix(key))
        ).first()
    if row is None or row.revoked_at is not None or not verify_key(key, row.key_hash):
        return None
    return Caller(row.id, True, row.is_admin)


async def get_caller(
    settings: SettingsDep,
    db: DatabaseDep,
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
    caller = await run_in_threadpool(_key_caller, db, key)
    if caller is None:
        raise UnauthorizedError("The API key is unknown or revoked.")
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


MAX_ID = 2**31 - 1
"""Largest id a path or cursor may name (the PostgreSQL ``integer`` range)."""

StudyId = Annotated[int, Path(ge=1, le=MAX_ID)]
"""The study id of a ``/studies/{study_id}`` path."""


def check_owner(study_id: int, owner_key_id: int | None, caller: Caller) -> None:
    """Raises:
        NotFoundError: the study belongs to another key and the caller is no admin (the
            answer for a missing study, so a caller cannot learn which ids other tenants
            hold).
    """
    if caller.scoped and owner_key_id != caller.key_id:
        raise NotFoundError(f"No study with id {study_id}.")


def get_owned_study(study_id: StudyId, session: SessionDep, caller: CallerDep) -> Study:
    """The study named in the path, if the caller may see it (its owner, or an admin key).

    Raises:
        NotFoundError: no such study, or the caller may not see it (:func:`check_owner`).
    """
    study = get_study(session, study_id)
    check_owner(study_id, study.owner_key_id, caller)
    return study


StudyDep = Annotated[Study, Depends(get_owned_study)]


def _owned_read(db: Database, study_id: int, caller: Caller,
                read: Callable[[Session, Study], T]) -> T:
    with db.session() as session:
        return read(session, get_owned_study(study_id, session, caller))


async def in_owned_study(db: Database, study_id: int, caller: Caller,
                         read: Callable[[Session, Study], T]) -> T:
    """``read(session, study)`` on the study the caller may see (as :data:`StudyDep`), in
    one unit of work and one thread-pool hop (a ``def`` route with :data:`StudyDep` and
    :data:`SessionDep` takes five: session in and out, the study, the route, the response
    check).

    Raises:
        NotFoundError: as :func:`get_owned_study`. The unit of work's storage errors.
    """
    return await run_in_threadpool(_owned_read, db, study_id, caller, read)

