"""Turn a study's ``problem`` into a search space, objectives and an evaluator spec.

One module per problem family (:mod:`app.problems.crossbar`, :mod:`app.problems.benchmarks`)
checks its part of the request; :func:`resolve` dispatches on ``problem.name`` and applies the
checks every study shares (objectives, reference point, optimizer method and options, the
space itself). The evaluator spec is plain JSON stored with the study, so any worker that can
import the project can evaluate a trial from the database row alone
(:mod:`app.execution.evaluators`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.core.errors import ValidationFailed
from app.problems import benchmarks, crossbar
from app.problems.common import ProblemSpec, field_error
from app.problems.workloads import WorkloadFiles
from app.schemas.study import StudyCreate
from optimizer.errors import MethodOptionsError, OptimizerError, UnknownMethodError
from optimizer.space import SearchSpace
from optimizer.suggest import available_methods, validate_options
from optimizer.types import Objective

__all__ = ["ResolvedStudy", "default_method", "problem_names", "resolve"]


@dataclass(frozen=True)
class ResolvedStudy:
    """A validated study definition, ready to store."""

    search_space: dict[str, Any]
    """The optimizer's JSON space spec."""
    objectives: list[Objective]
    reference_point: list[float] | None
    """One hypervolume reference value per objective (their units), or ``None``."""
    method: str
    evaluator: dict[str, Any]
    options: dict[str, Any]
    """Optimizer options: the study's, over ``CROSSBAR_CFMESMO_OPTIONS`` for crossbar studies
    optimized by ``cf-mesmo``."""
    target_fidelity: float
    """Fidelity of a full evaluation: the top of the space's fidelity range, or 1.0
    (``SearchSpace.target_fidelity``)."""


def default_method(problem_name: str) -> str:
    """``cf-mesmo`` for the (multi-fidelity) crossbar problem when available, else ``sobol``."""
    if problem_name == crossbar.CROSSBAR and "cf-mesmo" in available_methods():
        return "cf-mesmo"
    return "sobol"


def problem_names() -> list[str]:
    """Every name a study can give as ``problem.name``: ``crossbar``, then the benchmarks."""
    return [crossbar.CROSSBAR, *benchmarks.names()]


def resolve(study: StudyCreate,
            files: Mapping[str, WorkloadFiles] | None = None) -> ResolvedStudy:
    """Validate the semantic parts of a study definition; ``files`` are the file workloads
    (uploads, operator workloads) the caller may name as ``problem.workload``.

    Raises:
        ValidationFailed: listing every bad field (the structural checks ran in pydantic).
    """
    errors: list[dict[str, Any]] = []
    problem = study.problem
    if problem.name == crossbar.CROSSBAR:
        spec = crossbar.resolve_problem(problem, errors, files)
    elif problem.name in benchmarks.names():
        spec = benchmarks.resolve_problem(problem, errors)
    else:
        errors.append(field_error(["problem", "name"],
                                  f"unknown problem {problem.name!r}; available: "
                                  f"{', '.join(problem_names())}"))
        spec = ProblemSpec(None)

    objectives = _resolve_objectives(study, spec.objectives, errors) if spec.objectives else []
    ref = study.reference_point
    if ref is not None and objectives and len(ref) != len(objectives):
        errors.append(field_error(["reference_point"], f"has {len(ref)} values but the study "
                                  f"has {len(objectives)} objectives"))
    if ref is None and objectives and all(o.ref_point is not None for o in objectives):
        ref = [float(o.ref_point) for o in objectives]  # type: ignore[arg-type]

    method = study.optimizer.method or default_method(problem.name)
    options = dict(study.optimizer.options or {})
    if problem.name == crossbar.CROSSBAR and method == "cf-mesmo":
        options = {**crossbar.CROSSBAR_CFMESMO_OPTIONS, **options}
    known_method = method in available_methods()
    if not known_method:
        errors.append(field_error(["optimizer", "method"],
                                  f"unknown method {method!r}; available: "
                                  f"{', '.join(sorted(available_methods()))}"))
    space: SearchSpace | None = None
    space_ok = not any(e["loc"][1:3] == ["problem", "search_space"] for e in errors)
    if spec.search_space is not None and space_ok:
        try:  # the whole-space checks: duplicates, linear constraints, fidelity range
            space = SearchSpace.from_spec(spec.search_space)
        except ValueError as e:
            errors.append(field_error(["problem", "search_space"], str(e)))
    if known_method:
        _check_options(method, options, errors)
    if errors:
        raise ValidationFailed(
            f"{len(errors)} invalid field(s): "
            + "; ".join(".".join(str(p) for p in e["loc"][1:]) + ": " + e["msg"] for e in errors),
            errors=errors,
        )
    assert spec.search_space is not None and space is not None
    return ResolvedStudy(spec.search_space, objectives, ref, method, spec.evaluator, options,
                         space.target_fidelity)


def _check_options(method: str, options: dict[str, Any], errors: list[dict[str, Any]]) -> None:
    """Append one entry per bad option of ``method`` (the optimizer's own checks)."""
    try:
        validate_options(method, options)
    except MethodOptionsError as e:
        errors.extend(field_error(["optimizer", "options", name], msg) for name, msg in e.errors)
    except UnknownMethodError as e:
        errors.append(field_error(["optimizer", "method"], str(e)))
    except OptimizerError as e:
        errors.append(field_error(["optimizer", "options"], str(e)))


def _resolve_objectives(
    study: StudyCreate, defaults: list[Objective], errors: list[dict[str, Any]]
) -> list[Objective]:
    if study.objectives is None:
        return defaults
    by_name = {o.name: o for o in defaults}
    out: list[Objective] = []
    if not study.objectives:
        errors.append(field_error(["objectives"], "list at least one objective, or omit the field"))
    seen: set[str] = set()
    for i, o in enumerate(study.objectives):
        if o.name not in by_name:
            errors.append(field_error(["objectives", i, "name"],
                                      f"unknown objective {o.name!r}; the problem has "
                                      f"{', '.join(by_name)}"))
            continue
        if o.name in seen:
            errors.append(field_error(["objectives", i, "name"],
                                      f"objective {o.name!r} listed twice"))
            continue
        seen.add(o.name)
        d = by_name[o.name]
        out.append(Objective(name=o.name, direction=o.direction or d.direction,
                             ref_point=o.ref_point if o.ref_point is not None else d.ref_point,
                             threshold=o.threshold if o.threshold is not None else d.threshold))
    return out
