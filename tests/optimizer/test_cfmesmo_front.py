"""Tests of ``cf-mesmo``'s front-first rules under objective thresholds (the module docstring
of ``optimizer.methods.cfmesmo``): the cheap-first initial design, its full-fidelity designs
and the next full-fidelity suggestions taken from the predicted front while no full-fidelity
result meets the thresholds, and without thresholds only the cheap-first initial design."""

from __future__ import annotations

import math

import pytest
import torch

from optimizer.methods.front_first import FRONT_MIN_PROBABILITY
from optimizer.methods.mf_common import initial_full_numbers
from optimizer.posterior_front import (
    PredictedFront,
    feasibility_probability,
    meets_thresholds,
    thresholds_max,
)
from optimizer.space import SearchSpace
from optimizer.suggest import suggest
from optimizer.types import Objective, Observation

SPACE = SearchSpace.from_spec({"params": [
    {"name": "x0", "type": "float", "low": 0.0, "high": 1.0},
    {"name": "x1", "type": "float", "low": 0.0, "high": 1.0},
], "fidelity_range": [0.0, 1.0]})
THRESHOLD = 0.6
OBJ = [Objective(name="acc", direction="maximize", threshold=THRESHOLD),
       Objective(name="e", direction="minimize")]
OBJ_FREE = [Objective(name="acc", direction="maximize"), Objective(name="e", direction="minimize")]
FAST = {"num_samples": 2, "num_candidates": 64, "raw_samples": 64, "num_restarts": 0}


def values(x0: float, x1: float, z: float) -> dict[str, float]:
    """A toy trade-off: ``acc`` rises with ``x0`` (0.05 lower at ``z = 0``), ``e`` with both."""
    return {"acc": x0 - 0.05 * (1.0 - z), "e": 0.5 * x0 ** 2 + 0.2 * x1}


def observe(points: list[tuple[float, float, float]]) -> list[Observation]:
    """Observations at ``(x0, x1, z)`` with cost ``exp(3 z)`` [s]."""
    return [Observation(params={"x0": x0, "x1": x1}, fidelity=z, values=values(x0, x1, z),
                        cost_s=math.exp(3.0 * z)) for x0, x1, z in points]


CHEAP = [(0.05, 0.5, 0.0), (0.3, 0.9, 0.0), (0.5, 0.1, 0.0), (0.7, 0.6, 0.0),
         (0.85, 0.3, 0.0), (0.95, 0.8, 0.0)]
INFEASIBLE_FULL = [(0.1, 0.2, 1.0), (0.25, 0.7, 1.0)]


def test_initial_full_numbers() -> None:
    """First ``n_full`` design numbers by default, the last ``n_full`` of the design in the
    cheap-first order."""
    assert list(initial_full_numbers(2, None)) == [0, 1]
    assert list(initial_full_numbers(2, 6)) == [4, 5]
    assert list(initial_full_numbers(8, 6)) == list(range(6))


def test_cheap_first_initial_design_under_thresholds() -> None:
    """With a threshold, a 6-point design (n_init 6) runs its 4 cheap points first, at the
    lowest fidelity, then 2 at the target (Sobol designs: no observation to choose from);
    without a threshold the same by default, and with ``init_order: "full-first"`` the first 2
    are at the target and the others spread over fidelities."""
    out = suggest(SPACE, OBJ, [], [], 6, "cf-mesmo", seed=0, options={"n_init": 6})
    assert [s.fidelity for s in out] == [0.0] * 4 + [1.0] * 2
    assert {s.extras["phase"] for s in out} == {"initial-design"}
    default = suggest(SPACE, OBJ_FREE, [], [], 6, "cf-mesmo", seed=0, options={"n_init": 6})
    assert [(s.params, s.fidelity) for s in default] == [(s.params, s.fidelity) for s in out]
    free = suggest(SPACE, OBJ_FREE, [], [], 6, "cf-mesmo", seed=0,
                   options={"n_init": 6, "init_order": "full-first"})
    assert [s.fidelity for s in free[:2]] == [1.0, 1.0]
    assert all(0.0 < s.fidelity < 1.0 for s in free[2:])
    assert [s.params for s in free] == [s.params for s in out]  # the same Sobol designs


def test_initial_full_designs_are_predicted_feasible_front_members() -> None:
    """After 4 cheap observations of a 6-point design, its 2 full-fidelity designs are
    members of the predicted front at the target fidelity predicted to meet the threshold,
    distinct, and truly feasible (``x0 >= 0.6``)."""
    obs = observe(CHEAP[:4])
    out = suggest(SPACE, OBJ, obs, [], 2, "cf-mesmo", seed=1, options={**FAST, "n_init": 6})
    assert [s.fidelity for s in out] == [1.0, 1.0]
    assert [s.extras["phase"] for s in out] == ["initial-front"] * 2
    for s in out:
        assert s.extras["predicted"]["acc"]["mean"] >= THRESHOLD
        assert values(s.params["x0"], s.params["x1"], 1.0)["acc"] >= THRESHOLD
    assert out[0].params != out[1].params


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_without_thresholds_initial_full_designs_are_predicted_front_members(seed: int
                                                                              ) -> None:
    """No threshold: after the 4 cheap observations of a 6-point design its 2 full-fidelity
    designs are still chosen from the predicted front (not the design's Sobol points): distinct,
    at the target, near the true Pareto set ``x1 = 0`` (``e`` grows with ``x1``, ``acc`` does
    not depend on it; the Sobol designs they replace have ``x1`` 0.12-0.97)."""
    obs = observe(CHEAP[:4])
    out = suggest(SPACE, OBJ_FREE, obs, [], 2, "cf-mesmo", seed=seed,
                  options={**FAST, "n_init": 6})
    assert [(s.fidelity, s.extras["phase"]) for s in out] == [(1.0, "initial-front")] * 2
    assert out[0].params != out[1].params
    assert all(s.params["x1"] < 0.1 for s in out)
    assert all("acc" in s.extras["predicted"] for s in out)


def test_after_infeasible_full_points_the_next_full_point_is_predicted_feasible() -> None:
    """Both initial full-fidelity results miss the threshold: the next suggestion is at the
    target fidelity, a predicted-front member predicted to meet the threshold (and meeting
    it), not a design evaluated there; once a feasible full-fidelity result exists the
    method's own acquisition takes over."""
    obs = observe(INFEASIBLE_FULL + CHEAP)
    (s,) = suggest(SPACE, OBJ, obs, [], 1, "cf-mesmo", seed=2, options={**FAST, "n_init": 8})
    assert s.fidelity == 1.0 and s.extras["phase"] == "cf-mesmo-front"
    assert s.info_gain_per_cost is None
    pred = s.extras["predicted"]
    assert pred["acc"]["mean"] >= THRESHOLD and pred["acc"]["sd"] >= 0.0
    assert values(s.params["x0"], s.params["x1"], 1.0)["acc"] >= THRESHOLD
    feasible = observe(INFEASIBLE_FULL + CHEAP + [(s.params["x0"], s.params["x1"], 1.0)])
    (nxt,) = suggest(SPACE, OBJ, feasible, [], 1, "cf-mesmo", seed=2,
                     options={**FAST, "n_init": 8})
    assert nxt.extras["phase"] == "cf-mesmo" and nxt.info_gain_per_cost is not None


def test_a_batch_spreads_over_the_predicted_front() -> None:
    """A batch of 2 while no full-fidelity result is feasible: two distinct predicted-feasible
    members; with one of them pending, a single suggestion avoids it."""
    obs = observe(INFEASIBLE_FULL + CHEAP)
    out = suggest(SPACE, OBJ, obs, [], 2, "cf-mesmo", seed=3, options={**FAST, "n_init": 8})
    assert [s.extras["phase"] for s in out] == ["cf-mesmo-front"] * 2
    assert out[0].params != out[1].params
    (again,) = suggest(SPACE, OBJ, obs, out[:1], 1, "cf-mesmo", seed=3,
                       options={**FAST, "n_init": 8})
    assert again.extras["phase"] == "cf-mesmo-front" and again.params != out[0].params


@pytest.mark.parametrize("history", [[], CHEAP[:4], INFEASIBLE_FULL + CHEAP])
def test_without_thresholds_the_suggestions_are_unchanged(history: list) -> None:
    """Objectives without a threshold: ``seek_feasible`` on (default) and off give the same
    suggestions, in the initial design and after it; with a threshold and the option off,
    the same too (the rules are conditional on both)."""
    obs = observe(history)
    opts = {**FAST, "n_init": 6 if len(history) < 8 else 8}
    on = suggest(SPACE, OBJ_FREE, obs, [], 2, "cf-mesmo", seed=5, options=opts)
    off = suggest(SPACE, OBJ_FREE, obs, [], 2, "cf-mesmo", seed=5,
                  options={**opts, "seek_feasible": False})
    assert [(s.params, s.fidelity, s.extras["phase"]) for s in on] == \
        [(s.params, s.fidelity, s.extras["phase"]) for s in off]
    assert all(s.extras["phase"] in ("initial-design", "initial-front", "cf-mesmo")
               for s in on)
    thr_off = suggest(SPACE, OBJ, obs, [], 2, "cf-mesmo", seed=5,
                      options={**opts, "seek_feasible": False})
    assert [(s.params, s.fidelity) for s in thr_off] == [(s.params, s.fidelity) for s in off]


def test_threshold_helpers() -> None:
    """``thresholds_max`` negates a minimized objective's threshold; ``meets_thresholds``
    passes equality; ``feasibility_probability`` is the product of the normal tails of the
    thresholded objectives (1 without thresholds)."""
    objs = [Objective(name="a", direction="maximize", threshold=0.5),
            Objective(name="b", direction="minimize", threshold=2.0),
            Objective(name="c", direction="minimize")]
    t = thresholds_max(objs)
    assert t[:2].tolist() == [0.5, -2.0] and t[2] == -math.inf
    Y = torch.tensor([[0.5, -2.0, 9.0], [0.49, -1.0, 0.0], [0.9, -2.1, 0.0]],
                     dtype=torch.double)
    assert meets_thresholds(Y, t).tolist() == [True, False, False]
    front = PredictedFront(X=torch.zeros(2, 1, dtype=torch.double),
                           mean=torch.tensor([[0.5, -2.0, 0.0], [0.7, -3.0, 0.0]],
                                             dtype=torch.double),
                           std=torch.tensor([[0.1, 0.5, 1.0], [0.1, 0.5, 1.0]],
                                            dtype=torch.double))
    pf = feasibility_probability(front, t)
    z = torch.tensor([2.0, -2.0], dtype=torch.double)
    assert pf[0].item() == pytest.approx(0.25)
    assert pf[1].item() == pytest.approx(float(torch.special.ndtr(z).prod()))
    assert feasibility_probability(front, torch.full((3,), -math.inf)).tolist() == [1.0, 1.0]


def masked(x0: float, x1: float, z: float) -> dict[str, float]:
    """The trade-off of ``values`` with a full-fidelity loss the cheap fidelity does not show:
    ``acc = x0 - 0.5 z x1`` (feasible at the target only where ``x0 - 0.5 x1 >= 0.6``)."""
    return {"acc": x0 - 0.5 * z * x1, "e": 0.5 * x0 ** 2 + 0.2 * x1}


def test_after_failed_full_picks_none_predicted_feasible_the_most_likely_design() -> None:
    """The cheap fidelity says ``x0 >= 0.6`` is feasible, both full-fidelity picks miss (one
    at ``x0 = 0.95``, where the cheap result was 0.95 and the full one 0.55): no member of the
    predicted front is predicted to meet the threshold at the target, and the next suggestion
    is still a full-fidelity front pick, the design most likely to meet it (its reported
    probability is at least ``FRONT_MIN_PROBABILITY``, below its predicted mean's one-sided
    0.5) and truly feasible; the second slot of a batch is CF-MESMO's; without the rule the
    suggestion is CF-MESMO's; with a threshold no design can meet, CF-MESMO's too."""
    pts = CHEAP + [(0.95, 0.8, 1.0), (0.2, 0.3, 1.0)]
    obs = [Observation(params={"x0": a, "x1": b}, fidelity=z, values=masked(a, b, z),
                       cost_s=math.exp(3.0 * z)) for a, b, z in pts]
    opts = {**FAST, "n_init": 8}
    (s,) = suggest(SPACE, OBJ, obs, [], 1, "cf-mesmo", seed=2, options=opts)
    assert s.fidelity == 1.0 and s.extras["phase"] == "cf-mesmo-front"
    pred = s.extras["predicted"]["acc"]
    assert pred["mean"] < THRESHOLD  # not predicted feasible: the fallback chose it
    assert FRONT_MIN_PROBABILITY <= s.extras["feasibility_probability"] < 0.5
    assert masked(s.params["x0"], s.params["x1"], 1.0)["acc"] >= THRESHOLD
    assert all(abs(s.params["x0"] - a) + abs(s.params["x1"] - b) > 1e-3 for a, b, _ in pts)
    batch = suggest(SPACE, OBJ, obs, [], 2, "cf-mesmo", seed=2, options=opts)
    assert [b.extras["phase"] for b in batch] == ["cf-mesmo-front", "cf-mesmo"]
    (off,) = suggest(SPACE, OBJ, obs, [], 1, "cf-mesmo", seed=2,
                     options={**opts, "seek_feasible": False})
    assert off.extras["phase"] == "cf-mesmo"
    never = [Objective(name="acc", direction="maximize", threshold=3.0), OBJ[1]]
    (cf,) = suggest(SPACE, never, obs, [], 1, "cf-mesmo", seed=2, options=opts)
    assert cf.extras["phase"] == "cf-mesmo"
