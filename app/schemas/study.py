"""Pydantic v2 schemas of studies: Create (request), Public (response), list envelope."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.models import StudyState


class ObjectiveIn(BaseModel):
    """An objective of the study; omitted fields take the problem's defaults."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    direction: Literal["minimize", "maximize"] | None = None
    ref_point: float | None = Field(
        default=None, description="Hypervolume reference value in the objective's units."
    )


class ProblemIn(BaseModel):
    """What to optimize: ``crossbar`` (a DNN workload on ReRAM tiles) or a benchmark function."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        description="'crossbar', or a benchmark: branin-currin, momf-park, dtlz2, zdt1.",
    )
    workload: str | None = Field(default=None, description="crossbar only: e.g. digits-cnn.")
    workload_options: dict[str, Any] = Field(default_factory=dict)
    search_space: list[dict[str, Any]] | dict[str, Any] | None = Field(
        default=None, description="Parameter specs; the problem's default space when omitted."
    )
    fixed: dict[str, Any] = Field(
        default_factory=dict, description="crossbar only: CrossbarConfig fields held fixed."
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Benchmark options, e.g. {'dim': 6}."
    )


class OptimizerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: str | None = Field(
        default=None, description="random, sobol, nsga2, qnehvi, cf-mesmo, ... (see docs)."
    )
    options: dict[str, Any] = Field(default_factory=dict)


class BudgetIn(BaseModel):
    """When to stop creating trials; at least one limit is required."""

    model_config = ConfigDict(extra="forbid")

    max_trials: int | None = Field(default=None, gt=0, le=100_000)
    max_cost_s: float | None = Field(
        default=None, gt=0, description="Total evaluation cost [s] (sum of trial cost_s)."
    )
    max_wall_s: float | None = Field(default=None, gt=0, description="Wall time since start [s].")

    @model_validator(mode="after")
    def _one_limit(self) -> BudgetIn:
        if self.max_trials is None and self.max_cost_s is None and self.max_wall_s is None:
            raise ValueError("set at least one of max_trials, max_cost_s, max_wall_s")
        return self


class StudyCreate(BaseModel):
    """A study definition, as POSTed or read from a YAML/JSON file by ``xbar study create``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    problem: ProblemIn
    objectives: list[ObjectiveIn] | None = None
    reference_point: list[float] | None = Field(
        default=None, description="One hypervolume reference value per objective."
    )
    optimizer: OptimizerIn = Field(default_factory=OptimizerIn)
    budget: BudgetIn
    parallelism: int = Field(default=1, ge=1, le=256)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class ObjectivePublic(BaseModel):
    name: str
    direction: Literal["minimize", "maximize"]
    ref_point: float | None = None


class StudyPublic(BaseModel):
    id: int
    name: str
    state: StudyState
    problem: dict[str, Any]
    objectives: list[ObjectivePublic]
    reference_point: list[float] | None
    method: str
    optimizer_options: dict[str, Any]
    search_space: dict[str, Any]
    target_fidelity: float
    """Fidelity of a full evaluation (the top of the fidelity range, or 1): only results at
    this fidelity enter the front."""
    budget: dict[str, Any]
    parallelism: int
    seed: int
    n_trials: int
    n_completed: int
    n_failed: int
    total_cost_s: float
    hypervolume: float | None
    pareto_version: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class StudiesPublic(BaseModel):
    data: list[StudyPublic]
    next_cursor: str | None
