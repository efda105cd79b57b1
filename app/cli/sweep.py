"""``xbar sweep``: CI mode. Check a study file and its gates, submit it, wait for it, write
JUnit XML + JSON, and exit non-zero when anything is wrong.

A gate is ``<metric> <op> <number>`` with op one of ``>= <= > <``. Metrics: ``hypervolume``,
``front_size``, ``n_completed``, ``n_failed``, ``total_cost_s``, and ``best.<objective>`` (the
best value of that objective on the front). Gates come from ``--gate`` options and/or a
``gates:`` list in the study file.

Exit codes (:mod:`app.cli.client`): 0 the study completed and every gate passed; 1 the study
failed, was cancelled or timed out, or a gate failed; 2 bad input (unreadable or invalid study
file, malformed gate or unknown metric, a 4xx answer), found before anything is submitted
where it can be; 3 infrastructure (server unreachable, 5xx). The JUnit file is written on
every outcome, an error as a failed test case.
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

from app.cli.client import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, ApiError, Client
from app.cli.study import FINAL, wait_for_study
from app.cli.studyfile import StudyFile, StudyFileError, upload_local_workload, validate_locally

err = Console(stderr=True, soft_wrap=True)
OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
GATE_RE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|>|<)\s*([-+0-9.eE]+)\s*$")
STUDY_METRICS = ("hypervolume", "front_size", "n_completed", "n_failed", "total_cost_s")
"""Gate metrics every study has; ``best.<objective>`` adds one per objective."""


@dataclass(frozen=True)
class Gate:
    metric: str
    op: str
    threshold: float

    @classmethod
    def parse(cls, text: Any) -> Gate:
        """Raises:
            ValueError: not of the form ``metric op number``.
        """
        m = GATE_RE.match(text) if isinstance(text, str) else None
        if not m:
            raise ValueError(f"gate {text!r} is not 'metric op number' (op: >=, <=, >, <)")
        try:
            threshold = float(m.group(3))
        except ValueError:
            raise ValueError(f"gate {text!r}: {m.group(3)!r} is not a number") from None
        return cls(m.group(1), m.group(2), threshold)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}"


def known_metrics(objectives: list[str]) -> list[str]:
    """Every metric a gate may name for a study with these objectives."""
    return [*STUDY_METRICS, *(f"best.{o}" for o in objectives)]


def check_gates(gates: list[Gate], objectives: list[str]) -> None:
    """Raises:
        ValueError: a gate names a metric the study will not have (listing the known ones).
    """
    known = known_metrics(objectives)
    unknown = [g for g in gates if g.metric not in known]
    if unknown:
        raise ValueError(f"unknown gate metric(s) {', '.join(repr(g.metric) for g in unknown)};"
                         f" known: {', '.join(known)}")


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


def junit_xml(name: str, results: list[dict[str, Any]], state: str | None, elapsed_s: float,
              error: str | None = None, pending: list[str] | None = None) -> str:
    """A JUnit report: a ``study completed`` case (failed with ``error`` or the final state),
    one case per evaluated gate, and ``pending`` gates (never evaluated) as skipped."""
    pending = pending or []
    failed_study = error is not None or state != "completed"
    failures = sum(not r["passed"] for r in results) + failed_study
    suite = ET.Element("testsuite", name=f"xbar-sweep {name}",
                       tests=str(len(results) + len(pending) + 1), failures=str(failures),
                       skipped=str(len(pending)), time=f"{elapsed_s:.3f}")
    case = ET.SubElement(suite, "testcase", classname="xbar.sweep", name="study completed")
    if failed_study:
        ET.SubElement(case, "failure", message=error or f"study ended {state}")
    for r in results:
        case = ET.SubElement(suite, "testcase", classname="xbar.sweep.gate", name=r["gate"])
        if not r["passed"]:
            ET.SubElement(case, "failure", message=r["message"])
        else:
            ET.SubElement(case, "system-out").text = r["message"]
    for g in pending:
        case = ET.SubElement(suite, "testcase", classname="xbar.sweep.gate", name=g)
        ET.SubElement(case, "skipped", message="not evaluated: the sweep stopped before")
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


class _Stop(Exception):
    """The sweep ends early with ``code``; the message goes to stderr and the reports."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def sweep(
    file: Annotated[Path, typer.Argument(help="Study file (YAML/JSON), may hold `gates:`.")],
    gate: Annotated[list[str] | None, typer.Option("--gate", help="e.g. 'hypervolume>=0.4'")]
    = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML here (on every outcome)."
                                               )] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write a JSON report.")] = None,
    timeout: Annotated[float, typer.Option(help="Cancel the study after this many seconds.")]
    = 3600,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between polls.")] = 1.0,
    url: Annotated[str | None, typer.Option("--url", help="Service URL (env XBAR_URL).")]
    = None,
    api_key: Annotated[str | None, typer.Option("--api-key", help="API key (env XBAR_API_KEY)."
                                                )] = None,
) -> None:
    """Run a study to completion and gate on its front. Exit 0 when it completed and every
    gate passed, 1 on a failed study or gate, 2 on bad input (checked before submitting),
    3 when the service is unreachable or answers 5xx."""
    t0 = time.monotonic()
    name, gate_texts = file.stem, list(gate or [])
    study: dict[str, Any] | None = None
    front: dict[str, Any] | None = None
    results: list[dict[str, Any]] = []
    try:
        try:
            sf = StudyFile.read(file)
        except StudyFileError as e:
            raise _Stop(str(e), EXIT_BAD_INPUT) from None
        body = dict(sf.data)
        name = str(body.get("name", name))
        file_gates = body.pop("gates", [])
        if not isinstance(file_gates, list):
            raise _Stop(f"{file}: gates must be a list of 'metric op number'", EXIT_BAD_INPUT)
        gate_texts = [*map(str, file_gates), *gate_texts]
        try:
            gates = [Gate.parse(g) for g in [*file_gates, *(gate or [])]]
        except ValueError as e:
            raise _Stop(str(e), EXIT_BAD_INPUT) from None
        errors, objectives = validate_locally(body, file.parent)
        if errors:
            raise _Stop(f"{file} is invalid:\n{sf.describe(errors)}", EXIT_BAD_INPUT)
        try:
            check_gates(gates, objectives)
        except ValueError as e:
            raise _Stop(str(e), EXIT_BAD_INPUT) from None
        client = Client(url, api_key)
        try:
            body = upload_local_workload(client, body, file.parent)
        except StudyFileError as e:
            raise _Stop(str(e), EXIT_BAD_INPUT) from None
        except ApiError as e:
            raise _Stop(str(e), e.exit_code) from None
        try:
            study = client.post("/studies", json=body)
            sid = study["id"]
            err.print(f"sweep: study {sid} submitted ({len(gates)} gates)")
            study = wait_for_study(client, sid, interval, timeout_s=timeout)
            if study["state"] not in FINAL:
                try:
                    client.post(f"/studies/{sid}:cancel")
                except ApiError as e:
                    if e.status != 409:  # 409: it ended meanwhile
                        raise
                study = client.get(f"/studies/{sid}")
                raise _Stop(f"timeout after {timeout:g} s; study {sid} {study['state']}",
                            EXIT_FAILED)
            front = client.get(f"/studies/{sid}/pareto")
        except ApiError as e:
            raise _Stop(str(e), e.exit_code) from None
        results = evaluate_gates(gates, metrics_of(study, front))
    except _Stop as stop:
        err.print(f"[red]error:[/red] {stop}", highlight=False)
        _write_reports(junit, json_out, name, study, front, [], time.monotonic() - t0,
                       str(stop), gate_texts)
        raise typer.Exit(stop.code) from None
    passed = _write_reports(junit, json_out, name, study, front, results,
                            time.monotonic() - t0, None, [])
    for r in results:
        err.print(("[green]PASS[/green] " if r["passed"] else "[red]FAIL[/red] ") + r["message"],
                  highlight=False)
    err.print(f"study {study['id']} {study['state']} in {time.monotonic() - t0:.1f} s")
    raise typer.Exit(EXIT_OK if passed else EXIT_FAILED)


def _write_reports(junit: Path | None, json_out: Path | None, name: str,
                   study: dict[str, Any] | None, front: dict[str, Any] | None,
                   results: list[dict[str, Any]], elapsed_s: float, error: str | None,
                   pending: list[str]) -> bool:
    """Write the JUnit and JSON reports asked for; whether the sweep passed."""
    state = study["state"] if study else None
    passed = error is None and state == "completed" and all(r["passed"] for r in results)
    if junit:
        junit.write_text(junit_xml(name, results, state, elapsed_s, error, pending))
    if json_out:
        json_out.write_text(json.dumps({"study": study, "pareto": front, "gates": results,
                                        "error": error, "passed": passed}, indent=2))
    return passed
