"""``bench/load.py`` at a tiny size on SQLite: a real server, every endpoint loaded, and the
JSON's numbers consistent with each other (counts, rates, percentiles, ratios)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import load


def test_load_writes_measured_json(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    assert load.main(["--trials", "20", "--backends", "sqlite", "--clients", "2",
                      "--seconds", "1", "--workers", "2", "--timeout-s", "120",
                      "--out", str(out)]) == 0
    body = json.loads(out.read_text())
    assert body["clients"] == 2 and body["seconds_per_endpoint"] == 1.0
    combined, split = body["runs"]  # both topologies, on one study, the first filling it
    assert (combined["topology"], split["topology"]) == load.TOPOLOGIES
    assert combined["fill_s"] > 0 and split["fill_s"] is None
    for run in (combined, split):
        assert run["backend"] == "sqlite" and run["n_trials"] == 20
        assert len(run["load_avg_1min"]) == 2
        phases = {p["endpoint"]: p for p in run["phases"]}
        assert list(phases) == list(load.ENDPOINTS)
        for p in phases.values():
            assert p["requests"] >= 1 and sum(p["statuses"].values()) == p["requests"]
            # requests_per_s is rounded to 0.1 and wall_s to 1 ms: both roundings bound the gap
            slack = 0.05 + p["requests"] * 0.0005 / (p["wall_s"] - 0.0005) ** 2 + 1e-9
            assert abs(p["requests_per_s"] - p["requests"] / p["wall_s"]) <= slack
            assert p["p50_ms"] <= p["p90_ms"] <= p["p99_ms"] <= p["max_ms"]
            assert p["study_n_completed"] >= 20 and p["trials_completed_meanwhile"] >= 0
        assert run["n_5xx"] == sum(p["n_5xx"] for p in phases.values())
        assert run["pareto_vs_healthz"] == pytest.approx(
            phases["pareto"]["requests_per_s"] / phases["healthz"]["requests_per_s"],
            abs=1e-3)
        assert run["server_log_locked_lines"] >= 0 and run["n_locked_responses"] >= 0
        assert len(run["server_log_errors"]) == min(5, run["server_log_error_lines"])
    # the split topology's driver (another process) kept the study going
    assert max(p["study_n_completed"] for p in split["phases"]) >= \
        max(p["study_n_completed"] for p in combined["phases"])


def test_error_samples_quote_each_error_with_what_follows() -> None:
    log = ["a INFO x", "b ERROR boom in GET /x", "Traceback", "  line", "KeyError: 'k'", "c",
           *[f"{i} ERROR again" for i in range(6)]]
    samples = load.error_samples(log)
    assert samples[0] == "b ERROR boom in GET /x\nTraceback\n  line\nKeyError: 'k'"
    assert len(samples) == 5 and samples[1] == "0 ERROR again\n1 ERROR again\n2 ERROR again\n" \
        "3 ERROR again"
    assert load.error_samples(["ok"]) == []


@pytest.mark.parametrize("args", [["--clients", "0"], ["--seconds", "0"], ["--trials", "0"]])
def test_load_rejects_non_positive_sizes(tmp_path: Path, args: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as e:
        load.main([*args, "--out", str(tmp_path / "x.json")])
    assert e.value.code == 2
    assert "must be positive" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
