"""Uploaded workloads: the public view (``WorkloadPublic``) and its list."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"
"""Workload names: lower-case letters, digits, ``.``, ``_``, ``-``; at most 100 characters."""


class WorkloadPublic(BaseModel):
    """An uploaded workload as the API shows it (never its bytes, never a server path)."""

    name: str = Field(pattern=NAME_PATTERN)
    model_sha256: str
    data_sha256: str
    model_size_bytes: int
    data_size_bytes: int
    model_format: str
    data_format: str
    architecture: str | None = None
    analytic_tier: bool | None = None
    """Whether the analytic moment tier (fidelities below ``analytic_below``) can evaluate the
    model: false for a model that is not a chain of layers it handles (a study on it then
    defaults to ``analytic_below = 0``); null for uploads stored before this was recorded."""
    owner_key_id: int | None = None
    created_at: datetime


class UploadedWorkloadList(BaseModel):
    """The caller's uploaded workloads, sorted by name."""

    data: list[WorkloadPublic]
