"""Tests of ``bench/crossbar_table.py``, the script that tabulates the ``crossbar-digits``
benchmark problem (``optimizer.problems.crossbar_table``)."""

from __future__ import annotations

from bench.crossbar_table import build_table
from optimizer.problems.crossbar_table import TABLE_PARAMS, table_designs
from simulator import CrossbarConfig, evaluate

K = len(TABLE_PARAMS)


def test_tabulation_script_reproduces_simulator_values() -> None:
    """``bench/crossbar_table.py`` evaluates with the simulator exactly as a crossbar study
    would (same fixed fields, workload and seed): its row equals a direct ``evaluate``."""
    t = build_table(workers=1, limit=1, fidelities=(0.0,))
    (row,) = t["data"]
    design = table_designs()[0]
    ev = evaluate(CrossbarConfig.from_params({"analytic_below": 0.05, **design}),
                  "digits-cnn", 0.0, 0)
    assert row[:K + 1] == [*design.values(), 0.0]
    assert row[K + 1:K + 5] == [ev.accuracy, ev.area_mm2, ev.latency_us, ev.energy_uj]
    assert t["columns"][:K] == [p["name"] for p in TABLE_PARAMS]
