"""The Monte-Carlo estimator (simulator.estimators.montecarlo): draws are independent batch
entries, seeded, the estimate is what evaluate() reports, and noise lowers accuracy."""

from __future__ import annotations

import pytest
import torch

from simulator import CrossbarConfig, Workload, evaluate, fidelity_plan
from simulator.analog_model import AnalogModel
from simulator.estimators.montecarlo import monte_carlo_estimate


def test_batched_draws_equal_single_draws(digits_cnn: Workload) -> None:
    """Draw s of an S-draw batch gives exactly what the same programmed chip gives alone
    (no mixing across the draw dimension), with read noise off."""
    cfg = CrossbarConfig(read_sigma=0.0, prog_sigma=0.05, saf_sa0=0.01, saf_sa1=0.01)
    x = digits_cnn.x_test[:20]
    batched = AnalogModel(digits_cnn.model, cfg)
    batched.calibrate(digits_cnn.x_calib)
    batched.program(4, torch.Generator().manual_seed(0))
    out = batched(x)
    assert out.shape == torch.Size([4, 20, 10])
    single = AnalogModel(digits_cnn.model, cfg)
    single.calibrate(digits_cnn.x_calib)
    single.program(1)
    for s in (0, 3):
        for name, layer in single.layers.items():
            layer.g_eff = batched.layers[name].g_eff[s : s + 1].clone()
        torch.testing.assert_close(single(x)[0], out[s], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(out[0], out[3])


def test_monte_carlo_is_seeded(digits_mlp: Workload) -> None:
    """The same seed reproduces the per-draw accuracies, with read noise on."""
    cfg = CrossbarConfig(read_sigma=0.15, prog_sigma=0.1)
    runs = [evaluate(cfg, digits_mlp, 0.1, seed=s).details["accuracy_per_draw"] for s in (1, 1, 2)]
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_estimate_is_what_evaluate_reports(digits_mlp: Workload) -> None:
    """The estimator gives one accuracy per planned draw on the plan's test subset, each a
    multiple of 1/n_test, and evaluate() reports exactly those draws and their mean."""
    cfg = CrossbarConfig(read_sigma=0.1, prog_sigma=0.1)
    plan = fidelity_plan(0.2)
    est = monte_carlo_estimate(cfg, digits_mlp, plan, 3)
    n_all = int(digits_mlp.y_test.shape[0])
    assert len(est.per_draw) == plan.n_draws and est.n_test == plan.test_size(n_all) < n_all
    assert all(round(a * est.n_test) == pytest.approx(a * est.n_test) for a in est.per_draw)
    assert [layer["name"] for layer in est.details["layers"]] == ["1", "3"]
    ev = evaluate(cfg, digits_mlp, 0.2, seed=3)
    assert ev.details["accuracy_per_draw"] == est.per_draw
    assert ev.accuracy == pytest.approx(sum(est.per_draw) / len(est.per_draw))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("field", "levels"),
    [("read_sigma", (0.0, 0.15, 0.4)), ("prog_sigma", (0.0, 0.15, 0.4)),
     ("saf_sa1", (0.0, 0.05, 0.2))],
)
def test_noise_lowers_accuracy(digits_mlp: Workload, field: str, levels: tuple) -> None:
    """Mean accuracy over draws falls monotonically as a noise level grows."""
    base = {"device": "generic", "prog_sigma": 0.0, "read_sigma": 0.0, "saf_sa0": 0.0,
            "saf_sa1": 0.0}
    acc = [
        evaluate(CrossbarConfig(**{**base, field: v}), digits_mlp, 0.2, seed=0).accuracy
        for v in levels
    ]
    assert acc[0] > acc[1] > acc[2], acc
    assert acc[0] > 0.9 and acc[2] < acc[0] - 0.05
