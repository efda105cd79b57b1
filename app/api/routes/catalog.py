"""What can be studied: workloads, the default crossbar search space, benchmark problems."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.problems import problem_names
from app.problems.crossbar import default_space_spec, objectives_public
from optimizer.suggest import available_methods
from simulator import list_workloads

router = APIRouter(tags=["catalog"])


@router.get("/workloads")
def workloads() -> dict[str, list[dict[str, Any]]]:
    """DNN workloads the ``crossbar`` problem can evaluate."""
    return {"data": list_workloads()}


@router.get("/search-spaces/default")
def default_space() -> dict[str, Any]:
    """The default crossbar search space (``params``, ``fidelity_range``) and objectives."""
    return {**default_space_spec(), "objectives": objectives_public()}


@router.get("/problems")
def problems() -> dict[str, Any]:
    """Problems a study can name: ``crossbar`` plus benchmark functions, and optimizer methods."""
    return {"problems": problem_names(), "methods": available_methods()}
