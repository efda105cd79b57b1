"""Service settings, read from ``XBAR_*`` environment variables; invalid values fail at start-up."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from app.core.workloads_file import OperatorWorkload

CLUSTER_KINDS = ("local", "slurm", "pbs", "kubernetes")
"""Values of ``XBAR_DASK_CLUSTER`` besides a scheduler address."""


class Settings(BaseSettings):
    """Every knob of the service. Each field maps to the environment variable ``XBAR_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="XBAR_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./xbar.db",
        description="SQLAlchemy URL. SQLite file by default; postgresql://... for teams.",
    )
    host: str = Field(default="127.0.0.1", description="Interface `xbar serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `xbar serve` listens on.")
    auth: Literal["off", "on"] = Field(
        default="off", description="'off': single local user; 'on': Bearer API keys required."
    )
    dask_scheduler: str | None = Field(
        default=None, description="tcp://host:port of an external Dask scheduler."
    )
    dask_cluster: str = Field(
        default="local",
        description="Where evaluations run: 'local' (a LocalCluster in `xbar serve`), a "
                    "scheduler address tcp://host:port or tls://host:port, 'slurm' or 'pbs' "
                    "(dask-jobqueue, settings from the dask config `jobqueue.*`) or "
                    "'kubernetes' (dask-kubernetes operator). XBAR_DASK_SCHEDULER, when set, "
                    "wins.",
    )
    dask_jobs: int = Field(
        default=1, ge=0, description="Jobs (SLURM/PBS) or workers (Kubernetes) to start."
    )
    dask_image: str = Field(
        default="xbar-dse:latest",
        description="Container image of Kubernetes workers (the project installed).",
    )
    dask_host: str = Field(
        default="127.0.0.1",
        description="Interface the LocalCluster scheduler/workers and `xbar worker` bind to.",
    )
    dask_dashboard: str | None = Field(
        default=None,
        description="host:port of the LocalCluster's Dask dashboard; unset: no dashboard.",
    )
    dask_tls_ca_file: str | None = Field(
        default=None, description="CA certificate (PEM) for Dask TLS; with cert and key it "
                                  "turns TLS on for client, scheduler and workers."
    )
    dask_tls_cert: str | None = Field(default=None, description="Dask TLS certificate (PEM).")
    dask_tls_key: str | None = Field(default=None, description="Dask TLS private key (PEM).")
    dask_workers: int = Field(
        default_factory=lambda: max(1, min(4, os.cpu_count() or 1)),
        ge=1,
        description="Workers of the LocalCluster that `xbar serve` starts without a scheduler.",
    )
    dask_processes: bool = Field(
        default=True, description="LocalCluster workers as processes (True) or threads (False)."
    )
    lease_s: float = Field(
        default=60.0, gt=0, description="Trial lease [s]; a running trial not renewed is re-queued."
    )
    driver_lease_s: float = Field(
        default=15.0, gt=0, description="Study ownership lease of a driver [s]."
    )
    max_attempts: int = Field(default=3, ge=1, description="Attempts per trial before it fails.")
    trial_timeout_s: float | None = Field(
        default=3600.0, gt=0,
        description="Wall time after which an evaluation is abandoned and its trial re-queued "
                    "(counts an attempt) [s]; raise it for longer evaluations.",
    )
    suggest_timeout_s: float = Field(
        default=600.0, gt=0,
        description="Wall time after which an optimizer suggest call is abandoned and retried "
                    "[s]; the study fails after a few abandoned calls in a row.",
    )
    max_trials_per_study: int = Field(
        default=100_000, ge=1, description="Largest budget.max_trials a study may ask for."
    )
    max_parallelism: int = Field(
        default=64, ge=1, description="Largest parallelism (trials in flight) of a study."
    )
    poll_interval_s: float = Field(default=0.2, gt=0, description="Driver loop period [s].")
    run_driver: bool = Field(
        default=True, description="Run the study driver inside the API process."
    )
    max_body_bytes: int = Field(
        default=1_000_000, ge=1024, description="Largest request body accepted [bytes]; more: 413."
    )
    max_upload_bytes: int = Field(
        default=64_000_000, ge=1024,
        description="Largest model or data file one workload upload accepts [bytes]; more: 413.",
    )
    workloads_file: str | None = Field(
        default=None,
        description="TOML/JSON file naming operator workloads (model and data files on this "
                    "server) that every key may study; read and checked at start-up.",
    )
    max_json_depth: int = Field(
        default=32, ge=2, le=1000, description="Deepest JSON nesting accepted in a body."
    )
    pool_size: int = Field(default=5, ge=1, description="PostgreSQL connection pool size.")
    max_overflow: int = Field(default=5, ge=0, description="PostgreSQL pool overflow.")

    @field_validator("database_url")
    @classmethod
    def _normalize_url(cls, v: str) -> str:
        if v.startswith("postgres://"):
            v = "postgresql://" + v[len("postgres://") :]
        if v.startswith("postgresql://"):
            v = "postgresql+psycopg://" + v[len("postgresql://") :]
        if not (v.startswith("sqlite") or v.startswith("postgresql+psycopg")):
            raise ValueError(
                "XBAR_DATABASE_URL must be sqlite:///path or postgresql://user:pass@host/db"
            )
        return v

    @field_validator("workloads_file")
    @classmethod
    def _check_workloads_file(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        from app.core.workloads_file import load_workloads_file

        load_workloads_file(v)  # every entry read and built once: fail at start-up
        return v

    def operator_workloads(self) -> dict[str, OperatorWorkload]:
        """The workloads of ``XBAR_WORKLOADS_FILE`` by name (none when unset)."""
        if self.workloads_file is None:
            return {}
        from app.core.workloads_file import load_workloads_file

        return load_workloads_file(self.workloads_file)

    @field_validator("dask_cluster")
    @classmethod
    def _check_cluster(cls, v: str) -> str:
        if v in CLUSTER_KINDS or v.startswith(("tcp://", "tls://")):
            return v
        raise ValueError("XBAR_DASK_CLUSTER must be local, slurm, pbs, kubernetes or a "
                         "scheduler address tcp://host:port / tls://host:port")

    @field_validator("dask_scheduler")
    @classmethod
    def _check_scheduler(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if "://" not in v:
            raise ValueError("XBAR_DASK_SCHEDULER must look like tcp://host:port")
        return v


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own ``Settings``)."""
    return Settings()
