r"""The JSON Schema of a study definition published in ``/openapi.json`` as ``StudyCreate``
(``app.main._publish_registries``) and written by ``xbar study schema``, exact per problem and
written from the declarations the creation checks apply.

It admits only bodies creation accepts: where a rule cannot be stated (cross-field config
rules, float ranges, file workloads, ...) the form is left out rather than admitted, and
:data:`UNSTATED_RULES` (``x-checked-at-creation``) lists what creation accepts beyond it.
``tests/app/test_study_schema.py`` checks it against ``POST /studies:validate``, and the
Schemathesis run (``tests/app/test_schemathesis.py``) checks both directions.

Shape (kept small for generators: ``jsonschema_rs`` canonicalizes an ``anyOf`` of object
variants in about cubic time and gives up past about 50, and a coverage phase walks every
branch): the shared fields (``name``, ``optimizer``, ``budget``, ``parallelism``, ``seed``) sit
once beside a ``oneOf`` with one branch per problem, told apart by ``problem.name``
(``x-discriminator``; OpenAPI's ``discriminator`` names a property of the branch itself). A
branch states:

- ``problem``: a benchmark's declared options (:data:`app.problems.benchmarks.BENCHMARK_OPTIONS`);
  crossbar's fields once, beside one branch per option set of the installed workloads, with
  its search space and ``fixed`` fields (:mod:`app.schemas.crossbar_space`);
- ``objectives`` (names and directions as enums, each name once) and a ``reference_point`` of
  exactly one value per objective, as ``anyOf`` variants per number of objectives listed. A
  scalable benchmark is probed over its declared option values, so each option combination
  sits with the objectives it yields (``dtlz2``: ``dim > num_objectives``); objectives are
  listed only with the default ones;
- ``optimizer`` when ``method`` is left out: the options of the problem's default method
  (``Optimizer`` states each named method with its ``OPTIONS`` table,
  :func:`optimizer.suggest.declared_options`).

Budget and parallelism bounds are the server's per-study caps (``XBAR_MAX_TRIALS_PER_STUDY``,
``XBAR_MAX_PARALLELISM``).
"""

from __future__ import annotations

import copy
import functools
import itertools
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from app.core.config import Settings
from app.problems import benchmarks, crossbar, default_method, problem_names
from app.schemas import crossbar_space
from app.schemas.option_schemas import (
    NULL,
    declared_options_schema,
    method_options_schema,
    option_spec_schema,
)
from app.schemas.study import PUBLISHED_NAME_PATTERN
from optimizer.problems import get_problem
from optimizer.suggest import available_methods, declared_options
from optimizer.types import Objective
from simulator.workloads import OptionSpec, data_missing, list_workloads

__all__ = ["UNSTATED_RULES", "publish_study_schema", "study_json_schema"]

UNSTATED_RULES: dict[str, str] = {
    **crossbar_space.UNSTATED_RULES,
    "file workload": "a crossbar workload naming one of the caller's uploads or an operator "
                     "workload (known only per key at creation; it takes no options)",
    "objectives": "a scalable benchmark's objectives listed (names, directions, thresholds) "
                  "when its options change them from the defaults (e.g. dtlz2 with "
                  "num_objectives > 2): such a study is published with its default objectives",
}
"""What a study definition may hold beyond the published schema, by topic: creation accepts
it too. The schema admits only definitions creation accepts (``positive`` direction exact),
so a generator of schema-valid bodies never meets a 422."""

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
    server's caps.

    The fields every problem shares (``name``, ``optimizer``, ``budget``, ``parallelism``,
    ``seed``) are stated once, beside a ``oneOf`` by problem whose branches state only
    ``problem``, ``objectives`` and ``reference_point``: a generator's coverage phase walks
    each branch, so what a branch repeats multiplies its cases."""
    generated = schemas["StudyCreate"]
    props = {key: generated["properties"][key] for key in ("name", "budget", "seed")}
    props["name"] = {**props["name"], "pattern": PUBLISHED_NAME_PATTERN}
    props["parallelism"] = {**generated["properties"]["parallelism"], "maximum": min(
        generated["properties"]["parallelism"]["maximum"], settings.max_parallelism)}
    for branch in schemas["BudgetIn"]["properties"]["max_trials"]["anyOf"]:
        if branch.get("type") == "integer":
            branch["maximum"] = min(branch["maximum"], settings.max_trials_per_study)
    objective = schemas["ObjectiveIn"]
    finite = generated["properties"]["reference_point"]["anyOf"][0]["items"]

    schemas["Optimizer"] = _optimizer_schema()
    schemas["CrossbarParam"] = crossbar_space.params_schema()
    schemas["CrossbarSearchSpace"] = crossbar_space.search_space_schema(_REF + "CrossbarParam")
    schemas["CrossbarFixed"] = crossbar_space.fixed_schema()
    branches: list[dict[str, Any]] = []
    for problem in problem_names():
        default = f"DefaultMethod_{default_method(problem)}"
        schemas.setdefault(default, _default_method(default_method(problem)))
        groups = ([(_crossbar_problem(), list(crossbar.OBJECTIVES))]
                  if problem == crossbar.CROSSBAR else _benchmark_groups(problem))
        defaults = groups[0][1]
        variants = []
        shared = {"optimizer": {"$ref": _REF + default}}  # once, not per group
        if len(groups) > 1:  # the problem's fields once; per group only its options
            whole = copy.deepcopy(groups[0][0])
            whole["properties"]["options"] = {"type": "object"}
            whole["required"] = ["name"]
            schemas[f"Problem_{problem}"] = whole
            shared["problem"] = {"$ref": f"{_REF}Problem_{problem}"}
        for problem_schema, objectives in groups:
            if len(groups) > 1:
                own = {"properties": {"options": problem_schema["properties"]["options"]},
                       "required": problem_schema["required"]}
            else:
                schemas[f"Problem_{problem}"] = problem_schema
                own = {"$ref": f"{_REF}Problem_{problem}"}
            listed = range(1, len(objectives) + 1) if objectives == defaults else ()
            variants.append({"title": problem_schema.get("title", problem),
                             "properties": {"problem": own},
                             "anyOf": [_objectives(objectives, k, objective, finite)
                                       for k in (None, *listed)]})
        optimizer = shared
        schemas[f"StudyCreate_{problem}"] = (
            {"title": f"{problem} study", **variants[0],
             "properties": {**variants[0]["properties"], **optimizer}} if len(variants) == 1
            else {"title": f"{problem} study", "properties": optimizer, "anyOf": variants})
        branches.append({"$ref": f"{_REF}StudyCreate_{problem}"})
    schemas["StudyCreate"] = {
        "title": "StudyCreate", "description": generated.get("description", ""),
        "type": "object", "additionalProperties": False,
        "required": ["name", "problem", "budget"],
        "properties": {"name": props["name"], "problem": {"type": "object"},
                       "objectives": {}, "reference_point": {},
                       "optimizer": {"$ref": _REF + "Optimizer"}, "budget": props["budget"],
                       "parallelism": props["parallelism"], "seed": props["seed"]},
        "oneOf": branches, "x-discriminator": "problem.name",
        "x-checked-at-creation": list(UNSTATED_RULES.values()),
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


def _objectives(objectives: list[Objective], k: int | None, objective: Mapping[str, Any],
                finite: Mapping[str, Any]) -> dict[str, Any]:
    """``objectives`` and ``reference_point`` of a body: the problem's defaults (``k=None``)
    or ``k`` of its objectives, each once, with a reference point of as many values."""
    n = len(objectives) if k is None else k
    item = {**objective, "properties": {**objective["properties"],
                                        "name": {"enum": [o.name for o in objectives]}}}
    once = [{"contains": {"properties": {"name": {"const": o.name}}}, "minContains": 0,
             "maxContains": 1} for o in objectives]
    listed = (NULL if k is None else
              {"type": "array", "items": item, "minItems": k, "maxItems": k, "allOf": once})
    return {"title": f"{'default' if k is None else k} objective(s)",
            "properties": {"objectives": listed,
                           "reference_point": {"anyOf": [{"type": "array", "items": finite,
                                                          "minItems": n, "maxItems": n},
                                                         NULL]}},
            **({"required": ["objectives"]} if k else {})}


def _optimizer_schema() -> dict[str, Any]:
    """``optimizer``: each available method with its declared options, or no method (the
    problem's default, whose options each problem's branch states: :func:`_default_method`)."""
    variants = [{"type": "object", "title": "the problem's default method",
                 "additionalProperties": False,
                 "properties": {"method": NULL, "options": {"type": "object"}}}]
    variants += [{"type": "object", "title": method, "additionalProperties": False,
                  "required": ["method"],
                  "properties": {"method": {"const": method},
                                 "options": method_options_schema(declared_options(method))}}
                 for method in available_methods()]
    return {"anyOf": variants}


def _default_method(method: str) -> dict[str, Any]:
    """``optimizer`` of a problem whose default method is ``method``: a named method (its
    options stated in ``Optimizer``), or none and ``method``'s options."""
    return {"anyOf": [
        {"required": ["method"], "properties": {"method": {"type": "string"}}},
        {"properties": {"options": method_options_schema(declared_options(method))}},
    ]}


def _crossbar_problem() -> dict[str, Any]:
    """``problem`` of a crossbar study: its fields stated once, beside an ``anyOf`` with one
    branch per declared option set of the installed workloads (``workload`` an enum of the
    workloads declaring it; the default workload's branch admits it left out)."""
    installed = {w["name"]: w["options"] for w in list_workloads()
                 if data_missing(w["name"]) is None}

    def declared(raw: list[dict[str, Any]] | None) -> dict[str, Any]:
        return declared_options_schema(None if raw is None else [
            OptionSpec(**{**o, "choices": None if o.get("choices") is None
                          else tuple(o["choices"])}) for o in raw])

    by_options: dict[str, tuple[dict[str, Any], list[str | None]]] = {}
    for name, options in sorted(installed.items()):
        schema = declared(options)
        names = by_options.setdefault(repr(schema), (schema, []))[1]
        names += [None, name] if name == crossbar.DEFAULT_WORKLOAD else [name]
    branches = [{"title": ", ".join(str(n) for n in names if n),
                 "properties": {"workload": {"enum": names}, "workload_options": schema},
                 **({} if None in names else {"required": ["workload"]})}
                for schema, names in by_options.values()]
    return {"type": "object", "title": "crossbar problem", "additionalProperties": False,
            "required": ["name"],
            "properties": {"name": {"const": crossbar.CROSSBAR}, "workload": {},
                           "workload_options": {}, "options": _EMPTY,
                           "search_space": {"$ref": _REF + "CrossbarSearchSpace"},
                           "fixed": {"$ref": _REF + "CrossbarFixed"}},
            "anyOf": branches}


def _benchmark_groups(name: str) -> list[tuple[dict[str, Any], list[Objective]]]:
    """``(problem schema, objectives)`` per set of option combinations that yield the same
    objectives, found by building the benchmark for every combination of its declared
    options (each left out or set to each value of its domain); the first group holds the
    default options. Probed once per process (``crossbar-digits`` alone takes seconds to
    build): a copy of the first answer."""
    return copy.deepcopy(_probed_groups(name))


@functools.cache
def _probed_groups(name: str) -> list[tuple[dict[str, Any], list[Objective]]]:
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
