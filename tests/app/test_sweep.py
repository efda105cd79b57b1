"""`xbar sweep`: gate parsing and evaluation, JUnit output, and the command against a live
server with every exit code (0 passed, 1 failed gate or study, 2 bad input, 3 infrastructure)
and a JUnit file on every outcome."""

from __future__ import annotations

import json
from collections.abc import Iterator
from xml.etree import ElementTree as ET

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from app.cli.main import app
from app.cli.sweep import Gate, evaluate_gates, junit_xml, metrics_of
from tests.app.conftest import BRANIN
from tests.app.live import failing_server, serve, sqlite_url

STUDY = {"hypervolume": 0.42, "n_completed": 20, "n_failed": 1, "total_cost_s": 12.5}
FRONT = {"objectives": [{"name": "accuracy", "direction": "maximize"},
                        {"name": "energy_uj", "direction": "minimize"}],
         "points": [{"values": {"accuracy": 0.91, "energy_uj": 3.0}},
                    {"values": {"accuracy": 0.95, "energy_uj": 4.5}}]}


def test_gate_parse() -> None:
    """'metric op number' parses; anything else is a ValueError naming the gate."""
    assert Gate.parse("hypervolume >= 0.4") == Gate("hypervolume", ">=", 0.4)
    assert Gate.parse("best.energy_uj<3.5") == Gate("best.energy_uj", "<", 3.5)
    with pytest.raises(ValueError, match="hv = 3"):
        Gate.parse("hv = 3")


def test_metrics_and_gates() -> None:
    """best.<objective> respects the direction; failing and unknown gates are reported."""
    m = metrics_of(STUDY, FRONT)
    assert m["best.accuracy"] == 0.95 and m["best.energy_uj"] == 3.0 and m["front_size"] == 2
    res = evaluate_gates([Gate.parse("hypervolume>=0.4"), Gate.parse("best.accuracy>0.96"),
                          Gate.parse("area<1")], m)
    assert [r["passed"] for r in res] == [True, False, False]
    assert "unknown metric 'area'" in res[2]["message"]
    xml = ET.fromstring(junit_xml("s", res, "completed", 1.0))
    assert xml.get("tests") == "4" and xml.get("failures") == "2"
    assert len(xml.findall(".//failure")) == 2


# -- the command, against a live server ------------------------------------------------------

runner = CliRunner()
DOWN = "http://127.0.0.1:9"


@pytest.fixture
def live(tmp_path, engine) -> Iterator[str]:
    """A service with a driver whose per-study cap is max_trials <= 50."""
    with serve(sqlite_url(tmp_path), engine, max_trials_per_study=50) as url:
        yield url


def _sweep(tmp_path, url: str, *gates: str, study: dict | None = None, text: str | None = None,
           extra: tuple[str, ...] = ()) -> tuple[int, str, ET.Element | None, dict | None]:
    """Run `xbar sweep`; exit code, output, the JUnit tree and the JSON report (None when
    not written)."""
    f = tmp_path / "study.yaml"
    f.write_text(text if text is not None else yaml.safe_dump(study or BRANIN))
    junit, report = tmp_path / "sweep.xml", tmp_path / "sweep.json"
    junit.unlink(missing_ok=True)
    report.unlink(missing_ok=True)
    args = ["sweep", str(f), "--url", url, "--junit", str(junit), "--json", str(report),
            "--interval", "0.2", *extra]
    for g in gates:
        args += ["--gate", g]
    r = runner.invoke(app, args, env={"COLUMNS": "200"})
    return (r.exit_code, r.output, ET.parse(junit).getroot() if junit.exists() else None,
            json.loads(report.read_text()) if report.exists() else None)


def _failures(xml: ET.Element) -> list[str]:
    return [f.get("message") for f in xml.iter("failure")]


def _studies(url: str) -> list[dict]:
    return httpx.get(f"{url}/api/v1/studies").json()["data"]


def test_sweep_passes_and_fails_gates(tmp_path, live) -> None:
    """0 when the study completes and every gate holds; 1 when a gate fails, reported in the
    JUnit file and the JSON report."""
    code, out, xml, report = _sweep(tmp_path, live, "hypervolume>=0", "n_completed>=8")
    assert code == 0, out
    assert xml.get("tests") == "3" and xml.get("failures") == "0"
    assert report["passed"] is True and report["study"]["state"] == "completed"
    code, out, xml, report = _sweep(tmp_path, live, "front_size>=1000",
                                    study={**BRANIN, "gates": ["n_failed<=0"]})
    assert code == 1, out
    assert xml.get("failures") == "1" and "fails front_size >= 1000" in _failures(xml)[0]
    assert report["passed"] is False and [g["passed"] for g in report["gates"]] == [True, False]


def test_bad_gates_and_files_exit_2_before_submitting(tmp_path, live) -> None:
    """An unknown metric, a malformed gate, a YAML syntax error or an invalid definition:
    exit 2 with the reason in the JUnit file, and no study is created."""
    code, out, xml, _ = _sweep(tmp_path, live, "hv>=0.1")
    assert code == 2 and "unknown gate metric(s) 'hv'" in out
    assert "best.f0" in _failures(xml)[0] and xml.get("skipped") == "1"
    code, out, xml, _ = _sweep(tmp_path, live, "hypervolume = 3")
    assert code == 2 and "is not 'metric op number'" in _failures(xml)[0]
    code, out, xml, _ = _sweep(tmp_path, live, text="name: x\nbudget: [1,\n")
    assert code == 2 and "study.yaml:3:1: not valid YAML" in _failures(xml)[0]
    code, out, xml, report = _sweep(tmp_path, live, study={**BRANIN, "parallelism": 0})
    assert code == 2 and "parallelism:" in _failures(xml)[0]
    assert report["passed"] is False and report["study"] is None
    assert _studies(live) == []


def test_server_422_unreachable_and_5xx(tmp_path, live) -> None:
    """A definition only the server refuses (its cap) is exit 2; no server, or a 5xx, is
    exit 3; each writes a JUnit file with the error as a failed test case."""
    code, out, xml, _ = _sweep(tmp_path, live, "hypervolume>=0",
                               study={**BRANIN, "budget": {"max_trials": 51}})
    assert code == 2, out
    assert "HTTP 422" in _failures(xml)[0] and "max_trials is at most 50" in _failures(xml)[0]
    code, out, xml, _ = _sweep(tmp_path, DOWN, "hypervolume>=0")
    assert code == 3 and f"cannot reach {DOWN}" in _failures(xml)[0]
    with failing_server(503) as url:
        code, out, xml, _ = _sweep(tmp_path, url)
    assert code == 3 and "HTTP 503" in _failures(xml)[0]
    assert _studies(live) == []


def test_timeout_cancels_and_exits_1(tmp_path) -> None:
    """A study that does not finish in --timeout is cancelled: exit 1, in the JUnit file."""
    with serve(sqlite_url(tmp_path), run_driver=False) as url:
        code, out, xml, report = _sweep(tmp_path, url, "hypervolume>=0",
                                        extra=("--timeout", "0.5"))
        assert code == 1, out
        assert "timeout after 0.5 s" in _failures(xml)[0]
        assert report["study"]["state"] == "cancelled"
        assert [s["state"] for s in _studies(url)] == ["cancelled"]
