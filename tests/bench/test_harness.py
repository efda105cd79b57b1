"""Tests of the optimizer benchmark harness ``bench.harness`` (the runner, the summary and the
timing; the benchmark itself is never run here) and of ``xbar bench optimizer``."""

from __future__ import annotations

import json
import math
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

import app.cli.bench as bench_cli
import bench.harness
import bench.harness.runner as runner
import bench.harness.suggest_timing as suggest_timing
from app.cli.bench import REPO_ROOT, app, load_harness, parse_option
from bench.harness import (
    BenchSettings,
    finalize,
    goals,
    inference_hv,
    run_study,
    summarize,
    time_methods,
    time_suggest,
)
from bench.harness.report import MIN_COMPARED_UNITS, _cost_to_reach, _step_values
from bench.harness.staged import jobs_for
from bench.harness.suggest_timing import NOISE_SD, _dtlz2_timing_case
from optimizer.context import SuggestContext
from optimizer.known_noise import KnownNoiseLikelihood
from optimizer.methods.mf_common import mf_data
from optimizer.posterior_front import all_designs
from optimizer.problems import get_problem
from optimizer.problems.crossbar_table import TABLE_FIDELITIES, TABLE_PARAMS, table_designs
from optimizer.surrogates import fit_objective_model
from optimizer.types import Observation


def test_run_study_accounts_cost_and_hypervolume() -> None:
    """A random-search run on Branin-Currin charges exp(4.8)/exp(4.8) = 1 unit per full
    evaluation, stops at the budget, and its evaluated HV is non-decreasing and equals the
    problem's HV of the points it saw."""
    rec = run_study("branin-currin", "random", 0, budget_units=5.0, max_evals=50)
    assert rec.error is None and rec.stopped_by == "budget"
    assert rec.cost == pytest.approx([1.0, 2.0, 3.0, 4.0, 5.0])
    assert all(b >= a for a, b in zip(rec.hv_evaluated, rec.hv_evaluated[1:], strict=False))
    assert rec.checkpoints[-1] == [pytest.approx(5.0), pytest.approx(rec.hv_evaluated[-1])]
    assert 0.0 < rec.hv_evaluated[-1] < get_problem("branin-currin").max_hv


def test_full_fidelity_methods_are_told_the_evaluations_their_budget_buys() -> None:
    """qNEHVI (target fidelity only) with a 6-unit budget and a 60-evaluation cap is told 6
    evaluations, so its budget-capped initial design is 2 Sobol points and the other 4
    suggestions are model-based (told 60 it spent all 6 on Sobol points); multi-fidelity
    methods are told the cap itself."""
    from bench.harness.runs import evaluation_budget

    assert evaluation_budget("qnehvi", 6.0, 60) == 6
    assert evaluation_budget("qnehvi", 0.5, 60) == 1
    assert evaluation_budget("qnehvi", 100.0, 60) == 60
    assert evaluation_budget("cf-mesmo", 6.0, 60) == 60
    rec = run_study("branin-currin", "qnehvi", 0, budget_units=6.0, max_evals=60)
    assert rec.error is None and rec.stopped_by == "budget" and len(rec.cost) == 6
    assert rec.phase == ["initial-sobol"] * 2 + ["qnehvi"] * 4, rec.phase


@pytest.mark.slow
def test_inference_hv_uses_the_posterior_front() -> None:
    """With 30 full-fidelity observations of Branin-Currin the front identified under the
    posterior mean recovers most of the maximum HV (> 75%), more than the observed points'."""
    prob = get_problem("branin-currin")
    pts = prob.space.sample(30, torch.Generator().manual_seed(0))
    obs = []
    for p in pts:
        values, cost = prob.evaluate(p, 1.0)
        obs.append(Observation(params=p, fidelity=1.0, values=values, cost_s=cost))
    hv_inf = inference_hv(prob, obs)
    hv_obs = prob.hypervolume(torch.tensor([[o.values["f0"], o.values["f1"]] for o in obs]))
    assert 0.75 * prob.max_hv < hv_inf <= prob.max_hv + 1e-9
    assert hv_inf > hv_obs


def test_candidate_designs_enumerate_a_small_discrete_space() -> None:
    """The inference-HV candidates of the 216-point crossbar-digits space are its 216
    distinct points."""
    space = get_problem("crossbar-digits").space
    cand = all_designs(space)
    assert cand.shape == (216, len(TABLE_PARAMS))
    decoded = {tuple(p.values()) for p in space.from_unit_batch(cand)}
    assert decoded == {tuple(d.values()) for d in table_designs()}


def test_benchmark_run_charges_measured_costs() -> None:
    """A benchmark run on crossbar-digits records tabulated fidelities only, and its cost
    steps are the table's costs in units of the median full-fidelity cost."""
    problem = get_problem("crossbar-digits")
    rec = run_study("crossbar-digits", "random", 0, budget_units=2.0, max_evals=6)
    assert rec.error is None and len(rec.cost) >= 1
    assert set(rec.fidelity) <= set(TABLE_FIDELITIES)
    unit = float(problem.cost_batch(torch.tensor([1.0], dtype=torch.double))[0])
    costs = problem._cost.reshape(-1)
    steps = torch.diff(torch.tensor([0.0, *rec.cost], dtype=torch.double)) * unit
    for s in steps:
        assert (costs - s).abs().min() < 1e-9


def test_step_curves_and_cost_to_reach() -> None:
    """Step curves hold the last value at or before each grid cost, the 'before' value
    earlier and NaN past the run's spend; the cost to reach a level is the first crossing."""
    grid = np.array([0.5, 1.0, 1.5, 3.0, 5.0])
    v = _step_values([1.0, 2.0, 4.0], [0.1, 0.2, 0.4], grid, before=0.0)
    assert v[:4].tolist() == [0.0, 0.1, 0.1, 0.2] and math.isnan(v[4])
    assert _cost_to_reach([1.0, 2.0, 4.0], [0.1, 0.2, 0.4], 0.2) == 2.0
    assert _cost_to_reach([1.0, 2.0], [0.1, 0.2], 0.3) == math.inf


def _record(method: str, seed: int, cost: list[float], hv: list[float],
            problem: str = "p", fidelity: list[float] | None = None) -> dict:
    return {"problem": problem, "method": method, "seed": seed, "cost": cost,
            "fidelity": fidelity or [1.0] * len(cost), "hv_evaluated": hv,
            "checkpoints": [[c, h] for c, h in zip(cost, hv, strict=True)],
            "suggest_s": [0.1] * len(cost), "phase": ["x"] * len(cost), "stopped_by": "evals",
            "error": None}


def test_summary_and_goals_from_synthetic_runs() -> None:
    """Medians over seeds, the 95% cost (median over seeds; None when the median seed never
    gets there), and the NSGA-II ratio goal (cost to NSGA-II's final HV / NSGA-II's own cost)
    follow from hand-made traces."""
    recs = [
        _record("nsga2", 0, [1, 2, 10, 20], [0.1, 0.2, 0.5, 0.6]),
        _record("nsga2", 1, [1, 2, 10, 20], [0.1, 0.3, 0.6, 0.6]),
        _record("cf-mesmo", 0, [0.5, 1.0, 1.5], [0.2, 0.6, 0.96]),
        _record("cf-mesmo", 1, [0.5, 1.0, 1.5], [0.2, 0.5, 0.97]),
        _record("qnehvi", 0, [1, 2], [0.5, 0.7]),
        _record("qnehvi", 1, [1, 2], [0.5, 0.7]),
    ]
    summary = summarize(recs, {"p": 1.0}, grid_points=8)
    ms = summary["p"]["methods"]
    assert ms["cf-mesmo"]["cost_to_95_inference"] == pytest.approx(1.5)
    assert ms["qnehvi"]["cost_to_95_inference"] is None
    assert ms["nsga2"]["final_hv_evaluated_median"] == pytest.approx(0.6)
    g = goals(recs, summary, {"cf-mesmo": {"200": 1.0}, "qnehvi": {"200": 2.0},
                              "mf-hvkg": {"200": 30.0}})
    ns = g["p"]["vs_nsga2_evaluated"]
    # NSGA-II reaches its final 0.6 at cost 20 (seed 0) and 10 (seed 1): median 15;
    # cf-mesmo reaches 0.6 at 1.0 (seed 0) and 1.5 (seed 1): median 1.25.
    assert ns["nsga2_cost"] == pytest.approx(15.0) and ns["cf-mesmo_cost"] == pytest.approx(1.25)
    assert ns["ratio"] == pytest.approx(1.25 / 15.0) and ns["met"]
    assert g["p"]["cost_to_95_vs_qnehvi"]["met"]
    assert g["suggest_speed"]["vs_mf-hvkg"]["speedup"] == pytest.approx(30.0)
    assert g["suggest_speed"]["vs_qnehvi"]["met"]


def test_worst_seed_and_curve_goals_from_synthetic_runs() -> None:
    """The worst seed's regret is reported beside the median (curve and final value, every
    seed's final regret), and the evaluated-HV goal compares medians only after our initial
    design's cost: cf-mesmo's seed 1 ends at regret 1 - 0.5 = 0.5 > MF-HVKG's worst 0.3, so
    the worst-seed goal fails, and so does the median one (0.275 > 0.25)."""
    recs = [
        _record("cf-mesmo", 0, [0.5, 1.0, 2.0], [0.2, 0.6, 0.95]),
        _record("cf-mesmo", 1, [0.5, 1.0, 2.0], [0.2, 0.4, 0.5]),
        _record("mf-hvkg", 0, [0.5, 1.0, 2.0], [0.1, 0.5, 0.8]),
        _record("mf-hvkg", 1, [0.5, 1.0, 2.0], [0.1, 0.5, 0.7]),
        _record("momf", 0, [0.5, 1.0, 2.0], [0.3, 0.3, 0.3]),
        _record("momf", 1, [0.5, 1.0, 2.0], [0.3, 0.3, 0.3]),
    ]
    for r in recs[:2]:
        r["phase"] = ["initial-design", "cf-mesmo", "cf-mesmo"]
    summary = summarize(recs, {"p": 1.0}, grid_points=6)
    ms = summary["p"]["methods"]["cf-mesmo"]
    assert ms["final_regret_by_seed"] == {"0": pytest.approx(0.05), "1": pytest.approx(0.5)}
    assert ms["final_regret_worst"] == pytest.approx(0.5)
    assert ms["final_regret_median"] == pytest.approx(0.275)
    assert ms["regret_worst"][-1] == pytest.approx(0.5)
    assert ms["initial_design_cost_median"] == pytest.approx(0.5)
    g = goals(recs, summary, {})["p"]
    assert g["regret_vs_mf_hvkg_worst"]["final_common_cost_values"] == [
        pytest.approx(0.5), pytest.approx(0.3)]
    assert not g["regret_vs_mf_hvkg_worst"]["met"]
    assert not g["regret_vs_mf_hvkg_median"]["met"]  # 0.275 vs 0.25
    # evaluated HV vs MOMF after cost 0.5: ours 0.2 < 0.3 at 0.5, then 0.5 and 0.725 >= 0.3
    hv = g["hv_evaluated_vs_momf"]
    assert hv["after_cost"] == pytest.approx(0.5) and not hv["met"]
    assert 0.0 < hv["ours_at_least_as_good_share"] < 1.0


@pytest.mark.parametrize(("ours_end", "comparable"), [(0.9, False), (2.0, True)])
def test_evaluated_hv_goal_needs_a_window_of_one_unit(ours_end: float, comparable: bool
                                                      ) -> None:
    """cf-mesmo's evaluated HV is at least MOMF's wherever both are known; the goal passes only
    when the compared window after cf-mesmo's initial design (cost 0.5) spans at least
    ``MIN_COMPARED_UNITS`` (1.0): ending at 0.9 it is not comparable and not met."""
    recs = [_record("cf-mesmo", s, [0.5, 0.7, ours_end], [0.3, 0.4, 0.5]) for s in (0, 1)]
    recs += [_record("momf", s, [0.5, 1.0, 3.0], [0.3, 0.3, 0.3]) for s in (0, 1)]
    for r in recs[:2]:
        r["phase"] = ["initial-design", "cf-mesmo", "cf-mesmo"]
    summary = summarize(recs, {"p": 1.0}, grid_points=12)
    hv = goals(recs, summary, {})["p"]["hv_evaluated_vs_momf"]
    assert MIN_COMPARED_UNITS == 1.0
    assert hv["ours_at_least_as_good_share"] == 1.0
    assert hv["comparable"] is comparable and hv["met"] is comparable


def test_full_fidelity_share_is_counted_against_each_problems_target() -> None:
    """The share of full-fidelity evaluations counts fidelities at the problem's target: with
    target 0.8, evaluations at 0.8 (and 0.8 - 1e-12) count and 0.5 does not; with the default
    target 1.0 none of them counts."""
    recs = [_record("random", 0, [1, 2, 3, 4], [0.1, 0.2, 0.3, 0.4],
                    fidelity=[0.8, 0.5, 0.8 - 1e-12, 0.5])]
    share = summarize(recs, {"p": 1.0}, grid_points=4, target_fidelity={"p": 0.8})
    assert share["p"]["methods"]["random"]["full_fidelity_share"] == pytest.approx(0.5)
    default = summarize(recs, {"p": 1.0}, grid_points=4)
    assert default["p"]["methods"]["random"]["full_fidelity_share"] == 0.0


def test_time_suggest_reads_the_clock_around_the_call() -> None:
    """The timing of one call is the difference of the two clock readings around it."""
    readings = iter([100.0, 102.5])
    assert time_suggest("random", 5, clock=lambda: next(readings)) == 2.5


def test_timing_case_carries_known_noise_on_the_first_objective() -> None:
    """The timing case reports the first objective's noise variance, ``(NOISE_SD (1 + 3 (1 -
    z)))^2``, and only its; a third of the observations are at full fidelity; the objective
    model fitted to it fixes that output's noise and learns the others'."""
    space, objectives, obs = _dtlz2_timing_case(30, 0)
    assert sum(o.fidelity == 1.0 for o in obs) == 10
    for o in obs:
        assert set(o.variances or {}) == {"f0"}
        assert o.variances["f0"] == pytest.approx((NOISE_SD * (1 + 3 * (1 - o.fidelity))) ** 2)
    mf = mf_data(SuggestContext(space=space, objectives=objectives, observations=obs,
                                pending=[], n=1, seed=0))
    model = fit_objective_model(mf.data.X, mf.data.Y, mf.data.Yvar, mf.fidelity_dim)
    assert isinstance(model.likelihood, KnownNoiseLikelihood)
    assert model.likelihood.known.tolist() == [True, False, False, False]


def test_time_job_reads_cpu_and_wall_time() -> None:
    """A timing job returns the call's CPU seconds and its wall time, both >= 0, no error."""
    res = suggest_timing._time_job({"method": "random", "n_obs": 5, "options": None,
                                    "seed": 0})
    assert res["error"] is None
    assert res["seconds"] >= 0.0 and res["wall_s"] >= 0.0


def test_time_methods_reports_the_median_after_a_warm_up() -> None:
    """Per method and size the timing is the median of the measured durations, the untimed
    warm-up call excluded and failed calls left out (and listed)."""
    durations = {"a": [100.0, 1.0, 4.0, 2.0, 3.0, None, 5.0],
                 "b": [100.0, 7.0, 7.0, 9.0, 8.0, 6.0, 10.0]}
    calls: list[tuple[str, int, int]] = []

    def job(kw: dict[str, Any]) -> dict[str, Any]:
        calls.append((kw["method"], kw["n_obs"], kw["seed"]))
        s = durations[kw["method"]].pop(0)
        return {**kw, "seconds": s, "error": None if s is not None else "boom"}

    settings = BenchSettings(methods=("a", "b"), timing_sizes=(5, 7), timing_repeats=3)
    timing, errors = time_methods(settings, lambda _: None, job=job,
                                  executor=lambda: ThreadPoolExecutor(max_workers=1))
    assert timing == {"a": {"5": 2.0, "7": 4.0}, "b": {"5": 7.0, "7": 8.0}}
    assert errors == ["a@7: boom"]
    assert calls[:5] == [("a", 5, 0), ("a", 5, 0), ("a", 5, 1), ("a", 5, 2), ("a", 7, 0)]


@pytest.mark.slow
def test_cli_quick_writes_json_and_png(tmp_path) -> None:
    """`bench optimizer --quick` with one cheap method, problem and seed writes the JSON (with
    a summary for the problem) and the PNG."""
    res = CliRunner().invoke(app, ["optimizer", "--quick", "--seeds", "1", "--methods",
                                   "random", "--problems", "branin-currin", "--workers", "1",
                                   "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "optimizer.json").read_text())
    assert data["summary"]["branin-currin"]["methods"]["random"]["seeds"] == 1
    assert (tmp_path / "optimizer.png").stat().st_size > 1000
    bad = CliRunner().invoke(app, ["optimizer", "--methods", "nope", "--out", str(tmp_path)])
    assert bad.exit_code != 0 and "nope" in bad.output


def test_cli_option_parsing_and_errors(tmp_path) -> None:
    """``--option METHOD.KEY=VALUE`` reads JSON values (else strings); a malformed option or an
    unknown method exits non-zero naming ``--option`` before anything runs."""
    assert parse_option("cf-mesmo.num_samples=4") == ("cf-mesmo", "num_samples", 4)
    assert parse_option("cf-mesmo.fidelity_filter=boca") == ("cf-mesmo", "fidelity_filter",
                                                             "boca")
    assert parse_option("momf.flag=true") == ("momf", "flag", True)
    for text in ("cf-mesmo.num_samples", "num_samples=4", "nope.k=1"):
        res = CliRunner().invoke(app, ["optimizer", "--option", text, "--out", str(tmp_path)])
        assert res.exit_code != 0 and "--option" in res.output, (text, res.output)
    assert not list(tmp_path.iterdir())


def test_retime_keeps_runs_and_rewrites_timing(tmp_path, monkeypatch) -> None:
    """``--retime`` re-measures the timing of an existing result file with its own settings,
    keeps its runs unchanged, stores the new timing and notes the re-measurement; without a
    file it exits non-zero naming ``--retime``."""
    missing = CliRunner().invoke(app, ["optimizer", "--retime", "--out", str(tmp_path)])
    assert missing.exit_code != 0 and "--retime" in missing.output
    settings = BenchSettings.quick(methods=("random",), problems=("branin-currin",), seeds=1)
    runs = [_record("random", 0, [1.0, 2.0], [0.1, 0.2], problem="branin-currin")]
    finalize(runs, {"random": {"50": 9.0}}, settings, tmp_path)
    before = json.loads((tmp_path / "optimizer.json").read_text())
    seen: list[BenchSettings] = []

    def fake_time_methods(s: BenchSettings, say: Any) -> tuple[dict, list[str]]:
        seen.append(s)
        return {"random": {"50": 0.25}}, []

    monkeypatch.setattr(runner, "time_methods", fake_time_methods)
    again = CliRunner().invoke(app, ["optimizer", "--retime", "--out", str(tmp_path)])
    assert again.exit_code == 0, again.output
    after = json.loads((tmp_path / "optimizer.json").read_text())
    assert after["runs"] == before["runs"]
    assert before["timing"] == {"random": {"50": 9.0}}
    assert after["timing"] == {"random": {"50": 0.25}}
    assert len(seen) == 1 and list(seen[0].methods) == ["random"]
    assert list(seen[0].timing_sizes) == list(settings.timing_sizes) == [50]
    assert any("re-measured" in n for n in after["notes"])


def test_cli_finds_the_harness_in_the_checkout(tmp_path, monkeypatch) -> None:
    """When ``bench`` is not importable (the installed ``xbar`` run outside the repository),
    the CLI appends the checkout to ``sys.path`` and imports the harness from there; without a
    checkout it fails naming ``bench/harness``."""
    monkeypatch.setattr(bench_cli.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(REPO_ROOT)])
    with pytest.raises(typer.BadParameter, match="bench/harness"):
        load_harness(tmp_path)
    assert str(REPO_ROOT) not in sys.path
    assert load_harness() is bench.harness
    assert sys.path[-1] == str(REPO_ROOT)


def test_seeds_by_problem_and_staged_job_order() -> None:
    """``seeds_by_problem`` overrides ``seeds`` for the problems it names, and a staged run
    lists its jobs problem by problem, then seed by seed, then method (whole seeds first)."""
    s = BenchSettings(problems=("branin-currin", "momf-park"), methods=("cf-mesmo", "momf"),
                      seeds=2, seeds_by_problem={"branin-currin": 3}, max_evals=12)
    assert s.seeds_of("branin-currin") == 3 and s.seeds_of("momf-park") == 2
    jobs = jobs_for(s)
    assert [(j["problem_name"], j["seed"], j["method"]) for j in jobs[:3]] == [
        ("branin-currin", 0, "cf-mesmo"), ("branin-currin", 0, "momf"),
        ("branin-currin", 1, "cf-mesmo")]
    assert len(jobs) == 2 * 3 + 2 * 2 and {j["max_evals"] for j in jobs} == {12}


def test_shared_initial_design_is_botorchs() -> None:
    """The shared initial design of Branin-Currin (0.5 units) is the same for every method of
    a seed, costs less than 0.5 full evaluations, holds at least 2 (D + 1) = 8 designs, and
    another seed draws other designs; a run starts with it, charged, scored at its end."""
    from bench.harness.runs import shared_initial_design

    prob = get_problem("branin-currin")
    a, b = shared_initial_design(prob, 0, 0.5), shared_initial_design(prob, 0, 0.5)
    assert a == b and len(a) >= 8
    cost = sum(math.exp(4.8 * z) for _, z in a) / math.exp(4.8)
    assert 0.0 < cost < 0.5
    assert shared_initial_design(prob, 1, 0.5)[0] != a[0]
    rec = run_study("branin-currin", "random", 0, budget_units=5.0, max_evals=len(a) + 1,
                    init_units=0.5)
    assert rec.phase[:len(a)] == ["shared-initial-design"] * len(a)
    assert rec.fidelity[:len(a)] == [z for _, z in a]
    assert rec.cost[len(a) - 1] == pytest.approx(cost)
    assert rec.init_units == 0.5 and len(rec.design) == len(a) + 1
