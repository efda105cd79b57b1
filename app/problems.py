"""Turn a study's ``problem`` into a search space, objectives and an evaluator spec, and run
evaluations on workers.

The evaluator spec is plain JSON stored with the study, so any worker that can import the
project can evaluate a trial from the database row alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from app.core.errors import ValidationFailed
from app.schemas.study import StudyCreate
from optimizer.types import Objective

CROSSBAR = "crossbar"
DEFAULT_WORKLOAD = "digits-cnn"
CROSSBAR_CFMESMO_OPTIONS: dict[str, Any] = {"min_full_share": 0.2}
"""``cf-mesmo`` options a crossbar study holds unless its ``optimizer.options`` say otherwise:
pure CF-MESMO evaluated only 3-9% of its points at full fidelity in the optimizer benchmark,
which left the reported front (full-fidelity results only) empty for tens of trials; with at
least 20% at full fidelity the front fills (benchmark: evaluated HV 0 -> 0.22 on Branin-Currin)
at the price of more cost early (docs/optimizer.md)."""

CROSSBAR_DEFAULTS: dict[str, Any] = {"analytic_below": 0.05}
"""CrossbarConfig fields a crossbar study holds unless its ``problem.fixed`` says otherwise:
fidelities below 0.05 use the analytic moment model (about a second per design) as the
cheapest tier the multi-fidelity optimizer can buy."""


@dataclass(frozen=True)
class ResolvedStudy:
    """A validated study definition, ready to store."""

    search_space: dict[str, Any]
    objectives: list[Objective]
    reference_point: list[float] | None
    method: str
    evaluator: dict[str, Any]
    options: dict[str, Any]
    """Optimizer options: the study's, over ``CROSSBAR_CFMESMO_OPTIONS`` for crossbar studies
    optimized by ``cf-mesmo``."""


def _err(loc: list[str | int], msg: str) -> dict[str, Any]:
    return {"loc": ["body", *loc], "msg": msg, "type": "value_error"}


def default_method(problem_name: str, has_fidelity: bool) -> str:
    """``cf-mesmo`` for multi-fidelity problems when available, else ``sobol``."""
    from optimizer.suggest import available_methods

    if problem_name == CROSSBAR and "cf-mesmo" in available_methods():
        return "cf-mesmo"
    return "sobol"


def benchmark_names() -> list[str]:
    from optimizer.problems import available_problems

    return list(available_problems())


def resolve(study: StudyCreate) -> ResolvedStudy:
    """Validate the semantic parts of a study definition.

    Raises:
        ValidationFailed: listing every bad field (the structural checks ran in pydantic).
    """
    from optimizer.space import SearchSpace
    from optimizer.suggest import available_methods

    errors: list[dict[str, Any]] = []
    problem = study.problem
    space_spec: dict[str, Any] | None = None
    defaults: list[Objective] = []
    evaluator: dict[str, Any] = {}

    if problem.name == CROSSBAR:
        space_spec, defaults, evaluator = _resolve_crossbar(study, errors)
    elif problem.name in benchmark_names():
        from optimizer.problems import get_problem

        if problem.search_space is not None:
            errors.append(_err(["problem", "search_space"],
                               "benchmark problems have a fixed search space"))
        if problem.workload is not None or problem.fixed:
            errors.append(_err(["problem", "workload"], "only the crossbar problem has a workload"))
        try:
            bp = get_problem(problem.name, **problem.options)
        except (TypeError, ValueError) as e:
            errors.append(_err(["problem", "options"], str(e)))
        else:
            space_spec = bp.space.to_spec()
            defaults = list(bp.objectives)
            evaluator = {"kind": "benchmark", "name": problem.name, "options": problem.options}
    else:
        known = [CROSSBAR, *benchmark_names()]
        errors.append(_err(["problem", "name"],
                           f"unknown problem {problem.name!r}; available: {', '.join(known)}"))

    objectives = _resolve_objectives(study, defaults, errors) if defaults else []
    ref = study.reference_point
    if ref is not None and objectives and len(ref) != len(objectives):
        errors.append(_err(["reference_point"],
                           f"has {len(ref)} values but the study has {len(objectives)} objectives"))
    if ref is None and objectives and all(o.ref_point is not None for o in objectives):
        ref = [float(o.ref_point) for o in objectives]  # type: ignore[arg-type]

    has_fidelity = bool(space_spec and space_spec.get("fidelity_range"))
    method = study.optimizer.method or default_method(problem.name, has_fidelity)
    if method not in available_methods():
        errors.append(_err(["optimizer", "method"],
                           f"unknown method {method!r}; available: "
                           f"{', '.join(sorted(available_methods()))}"))
    if space_spec is not None and not errors:
        try:
            SearchSpace.from_spec(space_spec)
        except ValueError as e:
            errors.append(_err(["problem", "search_space"], str(e)))
    if errors:
        raise ValidationFailed(
            f"{len(errors)} invalid field(s): "
            + "; ".join(".".join(str(p) for p in e["loc"][1:]) + ": " + e["msg"] for e in errors),
            errors=errors,
        )
    assert space_spec is not None
    options = dict(study.optimizer.options or {})
    if problem.name == CROSSBAR and method == "cf-mesmo":
        options = {**CROSSBAR_CFMESMO_OPTIONS, **options}
    return ResolvedStudy(space_spec, objectives, ref, method, evaluator, options)


def _resolve_objectives(
    study: StudyCreate, defaults: list[Objective], errors: list[dict[str, Any]]
) -> list[Objective]:
    if study.objectives is None:
        return defaults
    by_name = {o.name: o for o in defaults}
    out: list[Objective] = []
    if not study.objectives:
        errors.append(_err(["objectives"], "list at least one objective, or omit the field"))
    seen: set[str] = set()
    for i, o in enumerate(study.objectives):
        if o.name not in by_name:
            errors.append(_err(["objectives", i, "name"],
                               f"unknown objective {o.name!r}; the problem has "
                               f"{', '.join(by_name)}"))
            continue
        if o.name in seen:
            errors.append(_err(["objectives", i, "name"], f"objective {o.name!r} listed twice"))
            continue
        seen.add(o.name)
        d = by_name[o.name]
        out.append(Objective(name=o.name, direction=o.direction or d.direction,
                             ref_point=o.ref_point if o.ref_point is not None else d.ref_point))
    return out


def _resolve_crossbar(
    study: StudyCreate, errors: list[dict[str, Any]]
) -> tuple[dict[str, Any] | None, list[Objective], dict[str, Any]]:
    import simulator

    problem = study.problem
    workload = problem.workload or DEFAULT_WORKLOAD
    names = [w["name"] for w in simulator.list_workloads()]
    if workload not in names:
        errors.append(_err(["problem", "workload"],
                           f"unknown workload {workload!r}; available: {', '.join(names)}"))
    if problem.options:
        errors.append(_err(["problem", "options"], "crossbar takes workload_options, not options"))
    fixed = {**CROSSBAR_DEFAULTS, **problem.fixed}
    try:
        simulator.CrossbarConfig.from_params(fixed)
    except ValueError as e:
        errors.append(_err(["problem", "fixed"], str(e)))
    raw = problem.search_space if problem.search_space is not None else (
        simulator.default_search_space()
    )
    spec = dict(raw) if isinstance(raw, dict) else {"params": list(raw)}
    spec.setdefault("fidelity_range", [0.0, 1.0])
    params = spec.get("params") or []
    if not params:
        errors.append(_err(["problem", "search_space"], "the search space has no parameters"))
    fields = set(simulator.CrossbarConfig.__dataclass_fields__)
    for i, p in enumerate(params):
        name = p.get("name") if isinstance(p, dict) else None
        if name not in fields:
            errors.append(_err(["problem", "search_space", i, "name"],
                               f"{name!r} is not a CrossbarConfig field"))
    defaults = [Objective(name=o["name"], direction=o["direction"],
                          ref_point=o.get("ref_point")) for o in simulator.DEFAULT_OBJECTIVES]
    evaluator = {"kind": CROSSBAR, "workload": workload,
                 "workload_options": problem.workload_options, "fixed": fixed}
    return spec, defaults, evaluator


@lru_cache(maxsize=8)
def _workload(name: str, options_key: str) -> Any:
    import json

    import simulator

    return simulator.get_workload(name, **json.loads(options_key))


def run_evaluation(
    evaluator: dict[str, Any], params: dict[str, Any], fidelity: float, seed: int
) -> dict[str, Any]:
    """Evaluate one trial; runs on a Dask worker. Returns ``values``, ``cost_s``, ``details``.

    For benchmark functions ``cost_s`` is the problem's synthetic cost (the measured wall time
    of a closed-form function is meaningless) or, for a tabulated problem, the wall time
    recorded with the table; the measured time is in ``details``.
    """
    t0 = time.perf_counter()
    if evaluator["kind"] == "benchmark":
        from optimizer.problems import get_problem

        bp = get_problem(evaluator["name"], **evaluator.get("options", {}))
        values, cost = bp.evaluate(params, fidelity)
        details: dict[str, Any] = {"wall_s": time.perf_counter() - t0,
                                   "cost_kind": bp.cost_kind}
        realized = bp.realized_fidelity(fidelity)
        if realized != fidelity:  # a tabulated problem: values and cost of the nearest level
            details["evaluated_fidelity"] = realized
        return {
            "values": {k: float(v) for k, v in values.items()},
            "cost_s": float(cost),
            "details": details,
        }
    if evaluator["kind"] == CROSSBAR:
        import json

        import simulator

        config = simulator.CrossbarConfig.from_params({**evaluator.get("fixed", {}), **params})
        workload = _workload(evaluator["workload"],
                             json.dumps(evaluator.get("workload_options", {}), sort_keys=True))
        ev = simulator.evaluate(config, workload, fidelity, seed)
        return {
            "values": {
                "accuracy": float(ev.accuracy),
                "area_mm2": float(ev.area_mm2),
                "latency_us": float(ev.latency_us),
                "energy_uj": float(ev.energy_uj),
            },
            "cost_s": float(ev.cost_s),
            "details": {"accuracy_std": float(ev.accuracy_std), **ev.details},
        }
    raise ValueError(f"unknown evaluator kind {evaluator.get('kind')!r}")
