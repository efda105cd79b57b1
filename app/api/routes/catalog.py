"""What can be studied: workloads, the default crossbar search space, benchmark problems."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.deps import CallerDep, SessionDep, SettingsDep
from app.api.responses import API_ERRORS
from app.problems import problem_names
from app.problems.crossbar import default_space_spec, objectives_public
from app.schemas.workload import WorkloadPublic
from app.services.workloads import list_uploaded
from optimizer.suggest import available_methods
from simulator import list_workloads

router = APIRouter(tags=["catalog"])


@router.get("/workloads", responses=API_ERRORS)
def workloads(session: SessionDep, caller: CallerDep,
              settings: SettingsDep) -> dict[str, list[dict[str, Any]]]:
    """DNN workloads the ``crossbar`` problem can evaluate: built-in ones
    (``source: builtin``), the operator's (``source: operator``, ``XBAR_WORKLOADS_FILE``,
    usable by every key), then the caller's uploads (``source: uploaded``; every upload for
    an admin key)."""
    operator = [{**w.public(), "source": "operator"}
                for _, w in sorted(settings.operator_workloads().items())]
    uploaded = [{**WorkloadPublic.model_validate(row, from_attributes=True).model_dump(
        mode="json"), "source": "uploaded"}
        for row in list_uploaded(session, caller.key_id, any_owner=not caller.scoped)]
    return {"data": [{**w, "source": "builtin"} for w in list_workloads()] + operator + uploaded}


@router.get("/search-spaces/default")
def default_space() -> dict[str, Any]:
    """The default crossbar search space (``params``, ``fidelity_range``) and objectives."""
    return {**default_space_spec(), "objectives": objectives_public()}


@router.get("/problems")
def problems() -> dict[str, Any]:
    """Problems a study can name: ``crossbar`` plus benchmark functions, and optimizer methods."""
    return {"problems": problem_names(), "methods": available_methods()}
