"""Rich tables of the study CLI: a study's summary, its Pareto front (parameters and
objectives, with units), its predicted front (labelled predictions) and the list of studies;
and the measure progress is shown in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.table import Table

UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_mm2", "mm²"), ("_um2", "µm²"), ("_uj", "µJ"), ("_nj", "nJ"), ("_pj", "pJ"),
    ("_mw", "mW"), ("_uw", "µW"), ("_us", "µs"), ("_ns", "ns"), ("_ms", "ms"), ("_nm", "nm"),
    ("_ohm", "Ω"), ("_bits", "bits"), ("_s", "s"),
)
"""Name suffix -> unit: every quantity the API returns carries its unit in its name
(``area_mm2``, ``energy_uj``, ``latency_us``, ``tech_node_nm``)."""

NAMED_UNITS = {"accuracy": "fraction"}
"""Quantities whose name has no unit suffix."""


def unit_of(name: str) -> str | None:
    """The unit of a parameter or objective named ``name`` (None when dimensionless or
    unknown)."""
    if name in NAMED_UNITS:
        return NAMED_UNITS[name]
    return next((unit for suffix, unit in UNIT_SUFFIXES if name.endswith(suffix)), None)


def _header(name: str) -> str:
    unit = unit_of(name)
    return f"{name} ({unit})" if unit else name


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def study_table(s: dict[str, Any]) -> Table:
    """State, budget, counters and hypervolume of one study (a ``StudyPublic``)."""
    t = Table(title=f"study {s['id']}: {s['name']}", show_header=False)
    for k in ("state", "method", "parallelism", "n_trials", "n_completed", "n_failed",
              "total_cost_s", "hypervolume", "error"):
        t.add_row(k, _cell(s[k]))
    t.add_row("problem", json.dumps(s["problem"]))
    t.add_row("budget", json.dumps({k: v for k, v in s["budget"].items() if v is not None}))
    return t


def front_table(front: dict[str, Any]) -> Table:
    """One row per front point: trial number, objectives (direction, unit), the point's
    parameters (units from their names) and its evaluation cost [s]."""
    objectives = front["objectives"]
    params: list[str] = []
    for p in front["points"]:
        params += [k for k in p["params"] if k not in params]
    t = Table(title=f"Pareto front: {len(front['points'])} points, hypervolume "
                    f"{_cell(front['hypervolume'])}")
    t.add_column("trial", justify="right")
    for o in objectives:
        arrow = "↑" if o["direction"] == "maximize" else "↓"
        t.add_column(f"{_header(o['name'])} {arrow}", justify="right", style="bold")
    for name in params:
        t.add_column(_header(name), justify="right")
    t.add_column("cost (s)", justify="right")
    for p in front["points"]:
        t.add_row(str(p["number"]), *[_cell(p["values"][o["name"]]) for o in objectives],
                  *[_cell(p["params"].get(n, "")) for n in params], _cell(p["cost_s"]))
    return t


def predicted_table(front: dict[str, Any]) -> Table:
    """The predicted front (a ``PredictedParetoPublic``), labelled as predictions: one row per
    design with each objective's posterior ``mean ± sd`` (direction, unit), its parameters
    and whether a trial evaluated it at the target fidelity."""
    objectives = front["objectives"]
    params: list[str] = []
    for p in front["points"]:
        params += [k for k in p["params"] if k not in params]
    t = Table(title=f"PREDICTED front (model posterior mean ± sd at fidelity "
                    f"{_cell(front['target_fidelity'])}, fitted to {front['n_observations']} "
                    f"trials; predictions, not evaluations): {len(front['points'])} designs")
    t.add_column("#", justify="right")
    for o in objectives:
        arrow = "↑" if o["direction"] == "maximize" else "↓"
        t.add_column(f"{_header(o['name'])} {arrow} predicted", justify="right", style="italic")
    for name in params:
        t.add_column(_header(name), justify="right")
    t.add_column("evaluated", justify="center")
    for i, p in enumerate(front["points"]):
        cells = [f"{_cell(p['predicted'][o['name']]['mean'])} ± "
                 f"{_cell(p['predicted'][o['name']]['sd'])}" for o in objectives]
        t.add_row(f"p{i}", *cells, *[_cell(p["params"].get(n, "")) for n in params],
                  "yes" if p["evaluated_at_target"] else "no")
    return t


def studies_table(studies: list[dict[str, Any]]) -> Table:
    """One row per study: id, name, state, method, progress, hypervolume, cost [s]."""
    t = Table(title=f"{len(studies)} studies")
    for col in ("id", "name", "state", "method", "progress", "hypervolume", "cost (s)",
                "created"):
        t.add_column(col, justify="right" if col in ("id", "hypervolume", "cost (s)")
                     else "left")
    for s in studies:
        p = progress_of(s)
        t.add_row(str(s["id"]), s["name"], s["state"], s["method"],
                  f"{p.done:.4g}/{p.total:.4g} {p.unit}", _cell(s["hypervolume"] or "-"),
                  f"{s['total_cost_s']:.4g}", s["created_at"])
    return t


@dataclass(frozen=True)
class Progress:
    """How far a study is through its budget: ``done`` of ``total`` in ``unit``."""

    done: float
    total: float
    unit: str


def _wall_s(s: dict[str, Any]) -> float:
    """Seconds since the study started (until it finished), from its UTC timestamps."""
    if not s.get("started_at"):
        return 0.0
    start = datetime.fromisoformat(s["started_at"].replace("Z", "+00:00"))
    end = (datetime.fromisoformat(s["finished_at"].replace("Z", "+00:00"))
           if s.get("finished_at") else datetime.now(UTC))
    return max(0.0, (end - start).total_seconds())


def progress_of(s: dict[str, Any]) -> Progress:
    """Trials done of ``max_trials``; without a trial budget, evaluation cost of
    ``max_cost_s`` [s]; else wall time of ``max_wall_s`` [s]."""
    b = s["budget"]
    if b.get("max_trials") is not None:
        return Progress(s["n_completed"] + s["n_failed"], b["max_trials"], "trials")
    if b.get("max_cost_s") is not None:
        return Progress(s["total_cost_s"], b["max_cost_s"], "s cost")
    return Progress(_wall_s(s), b.get("max_wall_s") or 0.0, "s wall")
