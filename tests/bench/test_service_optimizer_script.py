"""``bench/service_optimizer.py --quick``: real crossbar studies through the REST API at the
analytic tier; the JSON has its shape and its numbers agree with each other (curves never
decrease, end at the service's own hypervolume, and time-to-90% is read off them)."""

from __future__ import annotations

import json
from pathlib import Path

from bench import service_optimizer as so


def test_quick_run_writes_consistent_json_and_png(tmp_path: Path) -> None:
    out = tmp_path / "so.json"
    assert so.main(["--quick", "--max-trials", "2", "--out", str(out)]) == 0
    body = json.loads(out.read_text())
    assert body["quick"] is True and body["budget"]["max_trials"] == 2
    assert body["fidelity_range"] == so.QUICK_FIDELITY_RANGE and "2-core" in body["load"]
    assert [(r["method"], r["seed"]) for r in body["runs"]] == [("cf-mesmo", 0), ("sobol", 0)]
    for r in body["runs"]:
        assert r["state"] == "completed" and r["n_completed"] == 2 and r["n_failed"] == 0
        curve = r["curve"]
        assert sorted(p["trial"] for p in curve) == [0, 1]
        times, hvs = [p["t_s"] for p in curve], [p["hv"] for p in curve]
        assert times == sorted(times) and all(t > 0 for t in times) and times[-1] <= r["wall_s"]
        assert hvs == sorted(hvs) and hvs[-1] == r["final_hv"]
        assert r["final_hv"] == (r["service_hypervolume"] or 0.0)
        for p in curve:  # only target-fidelity results at accuracy >= 0.5 enter the front
            top = so.QUICK_FIDELITY_RANGE[1]
            assert p["full"] is (p["fidelity"] >= top - 1e-9 and p["values"]["accuracy"] >= 0.5)
        if r["first_hv_trial"] is not None:
            first = next(p for p in curve if p["hv"] > 0)
            assert (r["first_hv_trial"], r["first_hv_s"]) == (first["trial"] + 1, first["t_s"])
    best = max(r["final_hv"] for r in body["runs"])
    assert body["best_final_hv"] == best and body["target_hv"] == so.TARGET_SHARE * best
    for r in body["runs"]:
        reached = [p["t_s"] for p in r["curve"] if p["hv"] >= body["target_hv"] and p["hv"] > 0]
        assert r["time_to_90pct_s"] == (reached[0] if reached else None)
        per = body["per_method"][r["method"]]
        assert per["time_to_90pct_s"] == [r["time_to_90pct_s"]]
        assert per["median_time_to_90pct_s"] == r["time_to_90pct_s"]
    if best > 0:  # the best run reaches 90% of its own final value
        assert any(r["time_to_90pct_s"] is not None for r in body["runs"])
    assert out.with_suffix(".png").stat().st_size > 1000


def test_time_to_and_median_count_a_miss_as_late() -> None:
    curve = [{"t_s": 1.0, "hv": 0.0}, {"t_s": 2.0, "hv": 0.5}, {"t_s": 3.0, "hv": 0.9}]
    assert so.time_to(curve, 0.5) == 2.0 and so.time_to(curve, 0.95) is None
    assert so.time_to(curve, 0.0) == 2.0  # an empty front reaches nothing
    assert so.median_or_none([3.0, None, 1.0]) == 3.0
    assert so.median_or_none([3.0, None, None]) is None and so.median_or_none([]) is None


def test_bad_budgets_stop_before_anything_runs(tmp_path: Path, capsys) -> None:
    for args, msg in (
        (["--fidelity-high", "0"], "--fidelity-high must be in (0, 1]"),
        (["--max-trials", "1"], "--max-trials must be >= 2"),
    ):
        try:
            so.main([*args, "--out", str(tmp_path / "x.json")])
        except SystemExit as e:
            assert e.code == 2
        else:
            raise AssertionError(f"{args} was accepted")
        assert msg in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_every_label_is_plotted(tmp_path: Path) -> None:
    """A run of every method and variant label draws one figure (each label has a colour)."""
    runs = [{"method": m, "seed": 0, "curve": [{"t_s": 1.0 + k, "hv": 0.01 * (k + 1)}]}
            for k, m in enumerate(so.METHODS)]
    summary = {"best_final_hv": 0.06, "target_hv": 0.054}
    so.plot(runs, summary, tmp_path / "all.png", 1.0)
    assert (tmp_path / "all.png").stat().st_size > 1000
