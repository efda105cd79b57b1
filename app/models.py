"""SQLAlchemy 2 ORM models: the database is the single source of truth of the service.

Schema changes go through Alembic migrations in ``migrations/`` only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class StudyState(StrEnum):
    """Lifecycle state of a study (``studies.state``); transitions in ``services.lifecycle``."""

    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TrialState(StrEnum):
    """Lifecycle state of a trial (``trials.state``); transitions in ``services.lifecycle``."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


STUDY_ACTIVE = (StudyState.CREATED, StudyState.RUNNING, StudyState.PAUSED)
"""Studies a driver owns and steps (everything not final)."""
STUDY_FINAL = (StudyState.COMPLETED, StudyState.FAILED, StudyState.CANCELLED)
TRIAL_OPEN = (TrialState.QUEUED, TrialState.RUNNING)
"""Trials that hold a parallelism slot."""
TRIAL_FINAL = (TrialState.COMPLETED, TrialState.FAILED)


def state_pattern(states: type[StrEnum]) -> str:
    """A regular expression matching exactly the values of ``states`` (for query parameters)."""
    return "^(" + "|".join(s.value for s in states) + ")$"


def utcnow() -> datetime:
    """Naive UTC now: every timestamp column holds naive UTC (same on SQLite and PostgreSQL)."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class ApiKey(Base):
    """An API key: the raw key is shown once at creation; only prefix and hash are stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime())
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """An admin key sees and acts on every study, including those of revoked keys."""


class Study(Base):
    """A design study: definition, lifecycle state, budget counters and Pareto bookkeeping."""

    __tablename__ = "studies"
    __table_args__ = {"sqlite_autoincrement": True}
    """SQLite never reuses a deleted id (old URLs/ETags must not name a new study)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    objectives: Mapped[list[Any]] = mapped_column(JSON)
    search_space: Mapped[dict[str, Any]] = mapped_column(JSON)
    ref_point: Mapped[list[Any] | None] = mapped_column(JSON)
    target_fidelity: Mapped[float] = mapped_column(Float, default=1.0, server_default=text("1.0"))
    """Fidelity of a full evaluation (top of the space's fidelity range, 1.0 without one):
    only results at it join the front; ask ``services.pareto.is_full_fidelity``."""
    method: Mapped[str] = mapped_column(String(32))
    seed: Mapped[int] = mapped_column(Integer)
    parallelism: Mapped[int] = mapped_column(Integer)
    max_trials: Mapped[int | None] = mapped_column(Integer)
    max_cost_s: Mapped[float | None] = mapped_column(Float)
    max_wall_s: Mapped[float | None] = mapped_column(Float)
    next_number: Mapped[int] = mapped_column(Integer, default=0)
    n_completed: Mapped[int] = mapped_column(Integer, default=0)
    n_failed: Mapped[int] = mapped_column(Integer, default=0)
    total_cost_s: Mapped[float] = mapped_column(Float, default=0.0)
    pareto_version: Mapped[int] = mapped_column(Integer, default=0)
    hypervolume: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    driver_id: Mapped[str | None] = mapped_column(String(64))
    driver_lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime())
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(), default=utcnow, onupdate=utcnow
    )


class Trial(Base):
    """One evaluation of a configuration at a fidelity; ``number`` is unique per study."""

    __tablename__ = "trials"
    __table_args__ = (
        UniqueConstraint("study_id", "number", name="uq_trials_study_number"),
        Index("ix_trials_study_state", "study_id", "state"),
        Index("ix_trials_state_lease", "state", "lease_expires_at"),
        Index("ix_trials_study_pareto", "study_id", "is_pareto"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    fidelity: Mapped[float] = mapped_column(Float, default=1.0)
    seed: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    lease_token: Mapped[str | None] = mapped_column(String(64))
    worker: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime())
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime())
    info_gain_per_cost: Mapped[float | None] = mapped_column(Float)
    suggestion: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    is_pareto: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime())
    completed_at: Mapped[datetime | None] = mapped_column(DateTime())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(), default=utcnow, onupdate=utcnow
    )


class TrialResult(Base):
    """The recorded outcome of a trial: one row per trial, written once (idempotent)."""

    __tablename__ = "trial_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(
        ForeignKey("trials.id", ondelete="CASCADE"), unique=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    lease_token: Mapped[str] = mapped_column(String(64))
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    cost_s: Mapped[float] = mapped_column(Float)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)


class Event(Base):
    """Append-only study events with increasing ids (Server-Sent Events resume from an id)."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_study_id_id", "study_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)


class WorkloadBlob(Base):
    """Content-addressed bytes of an uploaded model or data file: stored once per sha256."""

    __tablename__ = "workload_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)


class UploadedWorkload(Base):
    """A workload uploaded by a key: a name over a model blob and a data blob (by sha256).

    ``name`` is unique per owner (``owner_key_id`` is ``None`` in open mode; the service checks
    that case, since SQL unique constraints treat NULLs as distinct).
    """

    __tablename__ = "uploaded_workloads"
    __table_args__ = (
        UniqueConstraint("owner_key_id", "name", name="uq_uploaded_workloads_owner_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    owner_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), index=True)
    model_sha256: Mapped[str] = mapped_column(ForeignKey("workload_blobs.sha256"))
    data_sha256: Mapped[str] = mapped_column(ForeignKey("workload_blobs.sha256"))
    model_size_bytes: Mapped[int] = mapped_column(BigInteger)
    data_size_bytes: Mapped[int] = mapped_column(BigInteger)
    model_format: Mapped[str] = mapped_column(String(32))
    data_format: Mapped[str] = mapped_column(String(32))
    architecture: Mapped[str | None] = mapped_column(String(100))
    analytic_tier: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    """Whether the analytic moment tier can evaluate the model (a chain of layers it handles);
    ``None`` for uploads stored before this was recorded."""
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
