"""Schemas of trials and of the Pareto front."""

from __future__ import annotations

from typing import Any, Literal

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
    origin: Literal["optimizer", "confirm"] = "optimizer"
    """``confirm``: a confirmation trial, evaluating a predicted-front design at the target
    fidelity (``app.execution.confirm``); ``optimizer``: suggested by the study's method."""
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
    """The evaluated front: full-fidelity results only."""

    study_id: int
    source: Literal["evaluated"] = "evaluated"
    pareto_version: int
    objectives: list[ObjectivePublic]
    reference_point: list[float] | None
    hypervolume: float | None
    points: list[ParetoPoint]


class PredictedValue(BaseModel):
    """The model's posterior of one objective at one design, in the objective's units."""

    mean: float
    sd: float
    """Posterior standard deviation of the latent value (no observation noise)."""


class PredictedPoint(BaseModel):
    """A member of the predicted front: a prediction, never an evaluated result."""

    source: Literal["predicted"] = "predicted"
    params: dict[str, Any]
    predicted: dict[str, PredictedValue]
    """By objective name: the posterior at the study's target fidelity."""
    evaluated_at_target: bool
    """Whether a completed trial evaluated this design at the target fidelity."""


class PredictedParetoPublic(BaseModel):
    """``GET /pareto?source=predicted``: the Pareto set of the model's posterior mean at the
    target fidelity, fitted to ``n_observations`` completed trials. ``status: "computing"``
    (HTTP 202, no points yet) until the worker's result is in; ``"ready"`` (200) after."""

    study_id: int
    source: Literal["predicted"] = "predicted"
    status: Literal["computing", "ready"]
    n_observations: int
    target_fidelity: float
    objectives: list[ObjectivePublic]
    points: list[PredictedPoint]


class ApiKeyCreated(BaseModel):
    id: int
    name: str
    prefix: str
    key: str
