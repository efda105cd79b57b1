"""Schemas of trials and of the Pareto front."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from app.models import TrialState
from app.schemas.study import ObjectivePublic
from app.schemas.types import UtcDatetime


class TrialPublic(BaseModel):
    id: int
    study_id: int
    number: int
    state: TrialState
    params: dict[str, Any]
    fidelity: float
    attempt: int
    values: dict[str, float] | None
    cost_s: float | None
    info_gain_per_cost: float | None
    is_pareto: bool
    worker: str | None
    error: str | None
    details: dict[str, Any] | None = None
    created_at: UtcDatetime
    started_at: UtcDatetime | None
    completed_at: UtcDatetime | None


class TrialsPublic(BaseModel):
    data: list[TrialPublic]
    next_cursor: str | None


class ParetoPoint(BaseModel):
    trial_id: int
    number: int
    params: dict[str, Any]
    values: dict[str, float]
    cost_s: float


class ParetoPublic(BaseModel):
    study_id: int
    pareto_version: int
    objectives: list[ObjectivePublic]
    reference_point: list[float] | None
    hypervolume: float | None
    points: list[ParetoPoint]


class ApiKeyCreated(BaseModel):
    id: int
    name: str
    prefix: str
    key: str
