"""Pydantic v2 schemas of studies: Create (request), Public (response), list envelope."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    WithJsonSchema,
    model_validator,
)

from app.models import StudyState
from app.schemas.space import SPACE_MAX_PARAMS, search_space_schema
from app.schemas.types import UtcDatetime

NAME_MAX = 200
"""Longest name (characters) of a study, problem, workload, method or objective."""
NUMBER_MAX = 1e15
"""Largest magnitude of a reference value (objective units): finite, and its products over up
to 16 objectives stay finite in the hypervolume."""
BUDGET_MAX_S = 1e9
"""Largest ``max_cost_s`` / ``max_wall_s`` [s] (about 31 years)."""
_ZERO_WIDTH_JOINERS = frozenset("\u200c\u200d")
"""Format characters a name may hold (they join emoji and Indic scripts)."""


_NAME_EXCLUDED = (
    r"\x00-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    r"\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufeff"
    r"\ufff9-\ufffb")
"""Characters a name may not hold: C0/C1 controls and DEL, surrogates, and every format
character of the Basic Multilingual Plane (Unicode 14 ``Cf``) except ZWNJ/ZWJ U+200C/U+200D."""
NAME_PATTERN = f"^[^{_NAME_EXCLUDED}]*[^{_NAME_EXCLUDED}\\s][^{_NAME_EXCLUDED}]*$"
"""The name rule as one regular expression (published in the OpenAPI schema, so generators
produce only names creation accepts): no excluded character, at least one non-space."""
_NAME_RE = re.compile(NAME_PATTERN)
PUBLISHED_NAME_PATTERN = NAME_PATTERN.replace(r"\ud800-\udfff", "")
""":data:`NAME_PATTERN` as published: without its surrogate range, which regex engines working
on code points (``jsonschema_rs``, hence Schemathesis) refuse, dropping the whole pattern. A
JSON text in UTF-8 holds no lone surrogate, so both admit the same names from a client."""


def _bad_char(text: str) -> str | None:
    """The first control, surrogate, private-use, unassigned or format character of ``text``
    (written ``U+XXXX``), or ``None``."""
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cs", "Co", "Cn") or (cat == "Cf" and ch not in _ZERO_WIDTH_JOINERS):
            return f"U+{ord(ch):04X}"
    return None


def _integral(value: Any) -> Any:
    """An integral float (``123.0``: JSON Schema's ``integer`` admits it) as an int; anything
    else unchanged, for the strict int check (so ``true``, ``"1"`` and ``1.5`` stay refused)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _check_name(value: str) -> str:
    """``value`` if it matches :data:`NAME_PATTERN`, else a ValueError saying why."""
    if _NAME_RE.fullmatch(value):
        return value
    if not value.strip():
        raise ValueError("must not be blank")
    bad = next(ch for ch in value if re.fullmatch(f"[{_NAME_EXCLUDED}]", ch))
    raise ValueError(f"must not contain control or format characters (found U+{ord(bad):04X})")


def _check_strings(value: Any) -> Any:
    """Refuse NUL and other control characters in every key and string of a JSON value (they
    cannot be stored in PostgreSQL JSON and have no use in an option)."""
    stack = [value]
    while stack:
        item = stack.pop()
        texts: list[Any] = []
        if isinstance(item, dict):
            texts = list(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            texts = [item]
        for text in texts:
            if isinstance(text, str) and (bad := _bad_char(text)) is not None:
                raise ValueError(f"strings must not contain control characters (found {bad})")
    return value


Name = Annotated[str, Field(strict=True, min_length=1, max_length=NAME_MAX,
                             json_schema_extra={"pattern": NAME_PATTERN}),
                 AfterValidator(_check_name)]
"""A human-chosen name: 1..200 characters, not blank, no control or format characters."""
Finite = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-NUMBER_MAX,
                                le=NUMBER_MAX)]
"""A finite JSON number of magnitude <= :data:`NUMBER_MAX` (booleans and strings refused)."""
Seconds = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0, le=BUDGET_MAX_S)]
"""A positive, finite duration [s] of at most :data:`BUDGET_MAX_S`."""
def _integral_values(value: Any) -> Any:
    """An options object with each integral float value (``8.0``, which JSON Schema's
    ``integer`` admits) as an int, so an option declared an integer takes it; anything else
    unchanged."""
    if not isinstance(value, dict):
        return value
    return {k: int(v) if isinstance(v, float) and v.is_integer() and abs(v) < 2**53 else v
            for k, v in value.items()}


Options = Annotated[dict[str, Any], BeforeValidator(_integral_values), Field(max_length=64),
                    AfterValidator(_check_strings)]
"""Options of a problem, workload or method (each checked by its owner at creation); integral
float values are ints."""
def bounded_int(*, ge: int | None = None, gt: int | None = None,
                le: int | None = None) -> Any:
    """A JSON integer within the bounds: an int or an integral float (``8.0``, which JSON
    Schema's ``integer`` admits); booleans, strings and fractions are refused. Its schema is
    stated whole (pydantic writes ``gt``/``le`` verbatim beside a before-validator)."""
    schema: dict[str, Any] = {"type": "integer"}
    for key, value in (("minimum", ge), ("exclusiveMinimum", gt), ("maximum", le)):
        if value is not None:
            schema[key] = value
    return Annotated[StrictInt, BeforeValidator(_integral), Field(ge=ge, gt=gt, le=le),
                     WithJsonSchema(schema)]


def _check_space(value: Any) -> Any:
    """A search space is ``null``, a list of parameter specs or an object (the problem checks
    each spec, naming its index)."""
    if value is None:
        return None
    if not isinstance(value, list | dict):
        raise ValueError("must be a list of parameter specs or an object with 'params'")
    params = value.get("params") if isinstance(value, dict) else value
    if isinstance(params, list) and len(params) > SPACE_MAX_PARAMS:
        raise ValueError(f"at most {SPACE_MAX_PARAMS} parameters")
    return _check_strings(value)


class ObjectiveIn(BaseModel):
    """An objective of the study; omitted fields take the problem's defaults."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[Name, Field(max_length=100)]
    direction: Literal["minimize", "maximize"] | None = None
    ref_point: Finite | None = Field(
        default=None, description="Hypervolume reference value in the objective's units."
    )
    threshold: Finite | None = Field(
        default=None,
        description="Worst acceptable value in the objective's units (e.g. accuracy 0.5): "
                    "designs worse than it never enter the Pareto front.",
    )


class ProblemIn(BaseModel):
    """What to optimize: ``crossbar`` (a DNN workload on ReRAM tiles) or a benchmark function."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(
        description="'crossbar', or a benchmark: branin-currin, momf-park, dtlz2, zdt1.",
    )
    workload: Name | None = Field(default=None, description="crossbar only: e.g. digits-cnn.")
    workload_options: Options = Field(
        default_factory=dict,
        description="crossbar only: the workload's declared options (never a path: data come "
                    "from the operator's XBAR_DATA_DIR).",
    )
    search_space: Annotated[Any, AfterValidator(_check_space),
                            WithJsonSchema(search_space_schema())] = None
    fixed: Options = Field(
        default_factory=dict, description="crossbar only: CrossbarConfig fields held fixed."
    )
    options: Options = Field(
        default_factory=dict, description="Benchmark options, e.g. {'dim': 6}."
    )


class OptimizerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Name | None = Field(
        default=None, description="random, sobol, nsga2, qnehvi, cf-mesmo, ... (see docs)."
    )
    options: Options = Field(default_factory=dict)


class BudgetIn(BaseModel):
    """When to stop creating trials; at least one limit is required (strictly typed: ``true``
    is no trial count)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"required": [k], "properties": {k: {"not": {"type": "null"}}}}
        for k in ("max_trials", "max_cost_s", "max_wall_s")]})

    max_trials: bounded_int(gt=0, le=100_000) | None = None
    max_cost_s: Seconds | None = Field(
        default=None, description="Total evaluation cost [s] (sum of trial cost_s)."
    )
    max_wall_s: Seconds | None = Field(default=None, description="Wall time since start [s].")

    @model_validator(mode="after")
    def _one_limit(self) -> BudgetIn:
        if self.max_trials is None and self.max_cost_s is None and self.max_wall_s is None:
            raise ValueError("set at least one of max_trials, max_cost_s, max_wall_s")
        return self


class StudyCreate(BaseModel):
    """A study definition, as POSTed or read from a YAML/JSON file by ``xbar study create``.

    Structure, types and bounds are checked here; :func:`app.problems.resolve` checks the rest
    (problem, space, workload, options) and lists every bad field in one 422.
    """

    model_config = ConfigDict(extra="forbid")

    name: Name
    problem: ProblemIn
    objectives: Annotated[list[ObjectiveIn], Field(max_length=16)] | None = None
    reference_point: Annotated[list[Finite], Field(max_length=16)] | None = Field(
        default=None, description="One hypervolume reference value per objective."
    )
    optimizer: OptimizerIn = Field(default_factory=OptimizerIn)
    budget: BudgetIn
    parallelism: bounded_int(ge=1, le=256) = 1
    seed: bounded_int(ge=0, le=2**31 - 1) = 0


class StudyActionIn(BaseModel):
    """The body of ``POST /studies/{id}:pause|resume|cancel``: none, or an empty object (any
    field is a 422 naming it)."""

    model_config = ConfigDict(extra="forbid")


class ObjectivePublic(BaseModel):
    name: str
    direction: Literal["minimize", "maximize"]
    ref_point: float | None = None
    threshold: float | None = None


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
    predicted_front: bool = False
    """Whether the method fits a model, so ``GET /pareto?source=predicted`` answers (else 409)."""
    error: str | None
    created_at: UtcDatetime
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None


class StudiesPublic(BaseModel):
    data: list[StudyPublic]
    next_cursor: str | None
