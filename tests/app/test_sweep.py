"""`xbar sweep` gates: parsing, evaluation against a front, JUnit output."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from app.cli.sweep import Gate, evaluate_gates, junit_xml, metrics_of

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
