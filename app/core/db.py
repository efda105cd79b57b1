"""Engine and session factory: SQLite (WAL, busy timeout) or PostgreSQL (pre-ping, bounded pool)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from app.core.errors import InvalidStoredValue, StorageError, StorageFailure

SQLITE_BUSY_TIMEOUT_MS = 10_000
PG_CONNECT_TIMEOUT_S = 3
"""Bound on opening a PostgreSQL connection [s]: an unreachable server gives a 503 quickly."""
POOL_TIMEOUT_S = 10
"""Bound on waiting for a free pooled connection [s]."""


def make_engine(url: str, *, pool_size: int = 5, max_overflow: int = 5) -> Engine:
    """Create an engine tuned for the backend.

    SQLite: WAL journal so readers never block the writer, ``busy_timeout`` of 10 s, foreign keys
    on. PostgreSQL: ``pool_pre_ping`` against dropped idle connections, a bounded pool.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow,
        pool_recycle=1800, pool_timeout=POOL_TIMEOUT_S,
        connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S},
    )


def storage_error(e: SQLAlchemyError) -> StorageError | InvalidStoredValue | StorageFailure:
    """The service error for a database error: its class name only, never the statement or
    parameters (they can hold other callers' data)."""
    kind = type(getattr(e, "orig", None) or e).__name__
    if isinstance(e, IntegrityError | DataError):
        return InvalidStoredValue(f"The database refused a value ({kind}).")
    if isinstance(e, PoolTimeout):
        return StorageError("The database is busy (no free connection).")
    if isinstance(e, DBAPIError) and e.connection_invalidated:
        return StorageError(f"The database connection was lost ({kind}).")
    if isinstance(e, DBAPIError) and type(e).__name__ in ("OperationalError", "InterfaceError"):
        return StorageError(f"The database is unavailable ({kind}).")
    return StorageFailure(f"Database error ({kind}).")


class Database:
    """Owns an engine and hands out short unit-of-work sessions."""

    def __init__(self, url: str, *, pool_size: int = 5, max_overflow: int = 5) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size, max_overflow=max_overflow)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back and re-raises on error.

        Raises:
            StorageError: the database is unreachable (connection lost or refused): 503.
            InvalidStoredValue: the database refused a value (integrity or data error): 422.
            StorageFailure: any other database error: 500.
            Each carries the original as ``__cause__``; none repeats SQL text or parameters.
        """
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as e:
            session.rollback()
            raise storage_error(e) from e
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
