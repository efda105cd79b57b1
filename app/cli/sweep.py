"""``xbar sweep``: CI mode. Submit a study file, wait for it, write JUnit XML + JSON, and exit
non-zero when a gate fails.

A gate is ``<metric> <op> <number>`` with op one of ``>= <= > <``. Metrics: ``hypervolume``,
``front_size``, ``n_completed``, ``n_failed``, ``total_cost_s``, and ``best.<objective>`` (the
best value of that objective on the front). Gates come from ``--gate`` options and/or a
``gates:`` list in the study file.
"""

from __future__ import annotations

import json
import operator
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from xml.etree import ElementTree as ET

import typer
from rich.console import Console

from app.cli.client import ApiError, Client
from app.cli.study import FINAL, load_study_file

err = Console(stderr=True)
OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
GATE_RE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|>|<)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Gate:
    metric: str
    op: str
    threshold: float

    @classmethod
    def parse(cls, text: str) -> Gate:
        """Raises:
            ValueError: not of the form ``metric op number``.
        """
        m = GATE_RE.match(text)
        if not m:
            raise ValueError(f"gate {text!r} is not 'metric op number' (op: >=, <=, >, <)")
        return cls(m.group(1), m.group(2), float(m.group(3)))

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}"


def metrics_of(study: dict[str, Any], front: dict[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {
        "hypervolume": study["hypervolume"],
        "front_size": float(len(front["points"])),
        "n_completed": float(study["n_completed"]),
        "n_failed": float(study["n_failed"]),
        "total_cost_s": float(study["total_cost_s"]),
    }
    for o in front["objectives"]:
        vals = [p["values"][o["name"]] for p in front["points"]]
        pick = max if o["direction"] == "maximize" else min
        out[f"best.{o['name']}"] = pick(vals) if vals else None
    return out


def evaluate_gates(gates: list[Gate], metrics: dict[str, float | None]) -> list[dict[str, Any]]:
    results = []
    for g in gates:
        value = metrics.get(g.metric)
        if g.metric not in metrics:
            ok, msg = False, f"unknown metric {g.metric!r}; known: {', '.join(sorted(metrics))}"
        elif value is None:
            ok, msg = False, f"{g.metric} is not available (no full-fidelity front yet)"
        else:
            ok = OPS[g.op](value, g.threshold)
            msg = f"{g.metric} = {value:.6g} {'satisfies' if ok else 'fails'} {g}"
        results.append({"gate": str(g), "passed": ok, "value": value, "message": msg})
    return results


def junit_xml(name: str, results: list[dict[str, Any]], state: str, elapsed_s: float) -> str:
    failures = sum(not r["passed"] for r in results) + (state != "completed")
    suite = ET.Element("testsuite", name=f"xbar-sweep {name}", tests=str(len(results) + 1),
                       failures=str(failures), time=f"{elapsed_s:.3f}")
    case = ET.SubElement(suite, "testcase", classname="xbar.sweep", name="study completed")
    if state != "completed":
        ET.SubElement(case, "failure", message=f"study ended {state}")
    for r in results:
        case = ET.SubElement(suite, "testcase", classname="xbar.sweep.gate", name=r["gate"])
        if not r["passed"]:
            ET.SubElement(case, "failure", message=r["message"])
        else:
            ET.SubElement(case, "system-out").text = r["message"]
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def sweep(
    file: Annotated[Path, typer.Argument(help="Study file (YAML/JSON), may hold `gates:`.")],
    gate: Annotated[list[str] | None, typer.Option("--gate", help="e.g. 'hypervolume>=0.4'")]
    = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML here.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write a JSON report.")] = None,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 3600,
    url: Annotated[str | None, typer.Option("--url")] = None,
    api_key: Annotated[str | None, typer.Option("--api-key")] = None,
) -> None:
    """Run a study to completion and gate on its front (exit 1 on a failed gate, 2 on bad
    input)."""
    try:
        body = load_study_file(file)
        gates = [Gate.parse(g) for g in [*body.pop("gates", []), *(gate or [])]]
    except ValueError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    client = Client(url, api_key)
    t0 = time.monotonic()
    try:
        study = client.post("/studies", json=body)
        sid = study["id"]
        err.print(f"sweep: study {sid} submitted ({len(gates)} gates)")
        while study["state"] not in FINAL:
            if time.monotonic() - t0 > timeout:
                client.post(f"/studies/{sid}:cancel")
                err.print(f"[red]timeout[/red] after {timeout:g} s; study {sid} cancelled")
                study = client.get(f"/studies/{sid}")
                break
            time.sleep(1.0)
            study = client.get(f"/studies/{sid}")
        front = client.get(f"/studies/{sid}/pareto")
    except ApiError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2 if e.status == 422 else 1) from None
    elapsed = time.monotonic() - t0
    results = evaluate_gates(gates, metrics_of(study, front))
    report = {"study": study, "pareto": front, "gates": results,
              "passed": study["state"] == "completed" and all(r["passed"] for r in results)}
    if junit:
        junit.write_text(junit_xml(study["name"], results, study["state"], elapsed))
    if json_out:
        json_out.write_text(json.dumps(report, indent=2))
    for r in results:
        err.print(("[green]PASS[/green] " if r["passed"] else "[red]FAIL[/red] ") + r["message"])
    err.print(f"study {sid} {study['state']} in {elapsed:.1f} s")
    if not report["passed"]:
        raise typer.Exit(1)
