r"""A JSON Schema of a study definition exact per problem (a replacement for the ``StudyCreate``
component of the OpenAPI document), written from the declarations the creation checks apply.

Not yet published in ``/openapi.json``: Schemathesis 4.32 canonicalizes schemas with
``jsonschema_rs``, which gives up (``CanonicalKind.RAW``: "does not support this part of it") on
an ``anyOf`` of more than about 50 object variants, and on this body as a whole even with the
crossbar parameter variants nested by kind; the coverage phase also ran past 10 minutes on it.
``tests/app/test_study_schema.py`` checks it against ``POST /studies:validate``.

``StudyCreate`` is a ``oneOf`` with one branch per problem, told apart by ``problem.name``
(``x-discriminator``: OpenAPI's ``discriminator`` names a property of the branch itself, not a
nested one). A branch states what depends on its problem:

- the problem's own fields: a benchmark's declared options
  (:data:`app.problems.benchmarks.BENCHMARK_OPTIONS`), crossbar's workloads with their declared
  options (only those whose data are installed here), its search space and ``fixed`` fields
  (:mod:`app.schemas.crossbar_space`), and a separate branch for a file workload (one of the
  caller's uploads or an operator workload: any name that is not a registered workload, no
  options);
- its objectives (names and directions as enums) and a ``reference_point`` of exactly one value
  per objective, as ``anyOf`` variants per number of objectives listed. A scalable benchmark is
  probed over its declared option values (cheap: a problem is a closed-form function), so each
  option combination sits with the objectives it yields (``dtlz2``: ``num_objectives``
  objectives and ``dim > num_objectives``);
- ``optimizer``: an ``anyOf`` by ``method`` whose ``options`` are the method's ``OPTIONS`` table
  (:func:`optimizer.suggest.declared_options`); without ``method``, the problem's default's.

Budget and parallelism bounds are the server's per-study caps (``XBAR_MAX_TRIALS_PER_STUDY``,
``XBAR_MAX_PARALLELISM``). What no JSON Schema states stays a creation check:
:data:`UNSTATED_RULES`.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from app.core.config import Settings
from app.problems import benchmarks, crossbar, default_method, problem_names
from app.problems.workloads import builtin_names
from app.schemas import crossbar_space
from app.schemas.option_schemas import (
    NULL,
    declared_options_schema,
    method_options_schema,
    option_spec_schema,
)
from app.schemas.study import NAME_MAX, NAME_PATTERN
from optimizer.problems import get_problem
from optimizer.suggest import available_methods, declared_options
from optimizer.types import Objective
from simulator.workloads import OptionSpec, data_missing, list_workloads

__all__ = ["UNSTATED_RULES", "publish_study_schema", "study_json_schema"]

UNSTATED_RULES: dict[str, str] = {
    **crossbar_space.UNSTATED_RULES,
    "listed twice": "objectives: each name once (uniqueItems compares whole objects)",
    "unknown workload": "a file workload: the caller's uploads are known only per key",
    "file workload": "a file workload takes no options",
}
"""Rules of a study definition no JSON Schema states, by a fragment of the message that
refuses them; everything else a schema-valid body can break is stated in the schema."""

_REF = "#/components/schemas/"
_EMPTY = {"type": "object", "maxProperties": 0}
_ABSENT = object()
"""An option left out (the problem then uses its default)."""
_MAX_PROBES = 5000
"""Most option combinations probed per benchmark."""


def publish_study_schema(schemas: dict[str, Any], settings: Settings) -> None:
    """Replace ``StudyCreate`` in an OpenAPI document's ``components.schemas`` (as FastAPI
    generated it from :class:`app.schemas.study.StudyCreate`) by the per-problem schema, adding
    the components it refers to, and bound ``budget.max_trials`` and ``parallelism`` by the
    server's caps."""
    generated = schemas["StudyCreate"]
    common = {key: generated["properties"][key]
              for key in ("name", "optimizer", "budget", "parallelism", "seed")}
    common["parallelism"] = {**common["parallelism"], "maximum": min(
        common["parallelism"]["maximum"], settings.max_parallelism)}
    for branch in schemas["BudgetIn"]["properties"]["max_trials"]["anyOf"]:
        if branch.get("type") == "integer":
            branch["maximum"] = min(branch["maximum"], settings.max_trials_per_study)
    objective = schemas["ObjectiveIn"]
    finite = generated["properties"]["reference_point"]["anyOf"][0]["items"]

    schemas["CrossbarParam"] = crossbar_space.params_schema()
    schemas["CrossbarSearchSpace"] = crossbar_space.search_space_schema(_REF + "CrossbarParam")
    schemas["CrossbarFixed"] = crossbar_space.fixed_schema()
    branches: list[dict[str, Any]] = []
    for problem in problem_names():
        default = default_method(problem)
        if f"Optimizer_{default}" not in schemas:
            schemas[f"Optimizer_{default}"] = _optimizer_schema(default)
        common["optimizer"] = {"$ref": f"{_REF}Optimizer_{default}"}
        groups = ([(_crossbar_problem(), list(crossbar.OBJECTIVES))]
                  if problem == crossbar.CROSSBAR else _benchmark_groups(problem))
        variants = []
        for i, (problem_schema, objectives) in enumerate(groups):
            key = f"Problem_{problem}" + (f"_{i}" if len(groups) > 1 else "")
            schemas[key] = problem_schema
            variants += [_body(common, key, objectives, k, objective, finite)
                         for k in (None, *range(1, len(objectives) + 1))]
        schemas[f"StudyCreate_{problem}"] = {"title": f"{problem} study", "anyOf": variants}
        branches.append({"$ref": f"{_REF}StudyCreate_{problem}"})
    for unused in ("ProblemIn", "OptimizerIn"):
        schemas.pop(unused, None)
    schemas["StudyCreate"] = {
        "title": "StudyCreate", "description": generated.get("description", ""),
        "oneOf": branches, "x-discriminator": "problem.name",
        "x-checked-at-creation": sorted(set(UNSTATED_RULES.values())),
    }


def study_json_schema(settings: Settings) -> dict[str, Any]:
    """A standalone JSON Schema (draft 2020-12) document of a study definition, exact per
    problem (what :func:`publish_study_schema` states), for editors and CI linters of study
    files (``xbar study schema``). Its definitions sit under ``components.schemas`` as in the
    OpenAPI document, so the same references resolve in both."""
    from app.schemas.study import StudyCreate

    top = StudyCreate.model_json_schema(ref_template=_REF + "{model}")
    schemas: dict[str, Any] = {**top.pop("$defs", {}), "StudyCreate": top}
    publish_study_schema(schemas, settings)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "xbar-dse study definition",
            "$ref": _REF + "StudyCreate", "components": {"schemas": schemas}}


def _body(common: Mapping[str, Any], problem_key: str, objectives: list[Objective],
          k: int | None, objective: Mapping[str, Any], finite: Mapping[str, Any],
          ) -> dict[str, Any]:
    """One body variant: the problem's defaults (``k=None``) or ``k`` listed objectives, with a
    reference point of as many values."""
    n = len(objectives) if k is None else k
    item = {**objective, "properties": {**objective["properties"],
                                        "name": {"enum": [o.name for o in objectives]}}}
    listed = (NULL if k is None else
              {"type": "array", "items": item, "minItems": k, "maxItems": k, "uniqueItems": True})
    props = {**common, "problem": {"$ref": _REF + problem_key}, "objectives": listed,
             "reference_point": {"anyOf": [{"type": "array", "items": finite, "minItems": n,
                                            "maxItems": n}, NULL]}}
    return {"type": "object", "title": f"{'default' if k is None else k} objective(s)",
            "properties": props, "additionalProperties": False,
            "required": ["name", "problem", "budget", *(["objectives"] if k else [])]}


def _optimizer_schema(default: str) -> dict[str, Any]:
    """``optimizer``: each available method with its declared options; ``default``'s options
    when ``method`` is left out."""
    variants = [{"type": "object", "title": f"{default} (default)", "additionalProperties": False,
                 "properties": {"method": NULL,
                                "options": method_options_schema(declared_options(default))}}]
    variants += [{"type": "object", "title": method, "additionalProperties": False,
                  "required": ["method"],
                  "properties": {"method": {"const": method},
                                 "options": method_options_schema(declared_options(method))}}
                 for method in available_methods()]
    return {"anyOf": variants}


def _crossbar_problem() -> dict[str, Any]:
    """``problem`` of a crossbar study: one variant per installed workload (and the default
    one when ``workload`` is left out), and one for a file workload."""
    shared = {"name": {"const": crossbar.CROSSBAR},
              "search_space": {"$ref": _REF + "CrossbarSearchSpace"},
              "fixed": {"$ref": _REF + "CrossbarFixed"}, "options": _EMPTY}
    installed = {w["name"]: w["options"] for w in list_workloads()
                 if data_missing(w["name"]) is None}

    def variant(title: str, workload: dict[str, Any], options: dict[str, Any],
                required: tuple[str, ...] = ("workload",)) -> dict[str, Any]:
        return {"type": "object", "title": title, "additionalProperties": False,
                "required": ["name", *required],
                "properties": {**shared, "workload": workload, "workload_options": options}}

    def declared(raw: list[dict[str, Any]] | None) -> dict[str, Any]:
        return declared_options_schema(None if raw is None else [
            OptionSpec(**{**o, "choices": None if o.get("choices") is None
                          else tuple(o["choices"])}) for o in raw])

    variants = [variant(f"{crossbar.DEFAULT_WORKLOAD} (default)", NULL,
                        declared(installed.get(crossbar.DEFAULT_WORKLOAD)), ())]
    variants += [variant(name, {"const": name}, declared(options))
                 for name, options in sorted(installed.items())]
    name_rule = {k: v for k, v in _name_schema().items() if k != "title"}
    variants.append(variant("file workload (an upload or an operator workload)",
                            {**name_rule, "not": {"enum": sorted(builtin_names())}}, _EMPTY))
    return {"anyOf": variants}


def _name_schema() -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": NAME_MAX, "pattern": NAME_PATTERN}


def _benchmark_groups(name: str) -> list[tuple[dict[str, Any], list[Objective]]]:
    """``(problem schema, objectives)`` per set of option combinations that yield the same
    objectives, found by building the benchmark for every combination of its declared
    options (each left out or set to each value of its domain)."""
    specs = benchmarks.BENCHMARK_OPTIONS.get(name, ())
    domains = [[_ABSENT, *_values(o)] for o in specs]
    if any(len(d) == 1 for d in domains) or _product(len(d) for d in domains) > _MAX_PROBES:
        return [(_benchmark_problem(name, {o.name: option_spec_schema(o) for o in specs}, ()),
                 list(get_problem(name).objectives))]
    by_objectives: dict[tuple[Any, ...], list[tuple[Any, ...]]] = defaultdict(list)
    found: dict[tuple[Any, ...], list[Objective]] = {}
    for combo in itertools.product(*domains):
        options = {o.name: v for o, v in zip(specs, combo, strict=True) if v is not _ABSENT}
        try:
            objectives = list(get_problem(name, **options).objectives)
        except (TypeError, ValueError):
            continue
        key = tuple((o.name, o.direction, o.ref_point, o.threshold) for o in objectives)
        by_objectives[key].append(combo)
        found[key] = objectives
    groups = []
    for key, combos in by_objectives.items():
        for part in _products(combos, len(specs)):
            props, required = {}, []
            for o, values in zip(specs, part, strict=True):
                given = sorted(v for v in values if v is not _ABSENT)
                if _ABSENT not in values:
                    required.append(o.name)
                if given:
                    props[o.name] = _int_set(given, o)
            groups.append((_benchmark_problem(name, props, tuple(required)), found[key]))
    return groups


def _benchmark_problem(name: str, options: dict[str, Any],
                       required: tuple[str, ...]) -> dict[str, Any]:
    opts: dict[str, Any] = {"type": "object", "additionalProperties": False,
                            "properties": options}
    if required:
        opts["required"] = list(required)
    return {"type": "object", "title": f"{name} problem", "additionalProperties": False,
            "required": ["name", *(["options"] if required else [])],
            "properties": {"name": {"const": name}, "options": opts, "workload": NULL,
                           "workload_options": _EMPTY, "fixed": _EMPTY, "search_space": NULL}}


def _values(spec: OptionSpec) -> list[Any]:
    """Every value of a bounded int option (``[]`` for another kind: not probed)."""
    if spec.type != "int" or spec.low is None or spec.high is None or spec.nullable:
        return []
    return list(range(int(spec.low), int(spec.high) + 1))


def _product(sizes: Any) -> int:
    out = 1
    for s in sizes:
        out *= s
    return out


def _products(combos: list[tuple[Any, ...]], n: int) -> list[list[set[Any]]]:
    """``combos`` as a union of Cartesian products of per-option value sets: the whole set
    when it is one, else split by the values of the first option that varies."""
    sets = [{c[i] for c in combos} for i in range(n)]
    if _product(len(s) for s in sets) == len(set(combos)):
        return [sets]
    i = next(i for i, s in enumerate(sets) if len(s) > 1)
    parts: list[list[set[Any]]] = []
    for value in sets[i]:
        parts += _products([c for c in combos if c[i] == value], n)
    return parts


def _int_set(values: list[int], spec: OptionSpec) -> dict[str, Any]:
    """A set of integers as a range when contiguous, else an enum."""
    base: dict[str, Any] = {"description": spec.description} if spec.description else {}
    if values == list(range(values[0], values[-1] + 1)):
        if len(values) == 1:
            return {**base, "const": values[0]}
        return {**base, "type": "integer", "minimum": values[0], "maximum": values[-1]}
    return {**base, "enum": values}
