"""What can be studied: workloads, the default crossbar search space, benchmark problems."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

router = APIRouter(tags=["catalog"])


@router.get("/workloads")
def workloads() -> dict[str, list[dict[str, Any]]]:
    """DNN workloads the ``crossbar`` problem can evaluate."""
    import simulator

    return {"data": simulator.list_workloads()}


@router.get("/search-spaces/default")
def default_space() -> dict[str, Any]:
    """The default crossbar search space and objectives."""
    import simulator

    return {
        "params": simulator.default_search_space(),
        "fidelity_range": [0.0, 1.0],
        "objectives": simulator.DEFAULT_OBJECTIVES,
    }


@router.get("/problems")
def problems() -> dict[str, Any]:
    """Problems a study can name: ``crossbar`` plus benchmark functions, and optimizer methods."""
    from optimizer.problems import available_problems
    from optimizer.suggest import available_methods

    return {"problems": ["crossbar", *available_problems()], "methods": available_methods()}
