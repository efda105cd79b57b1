"""Noise referral (simulator.estimators.referral) and the analytic accuracy estimator
(simulator.estimators.analytic), against the mapping and the Monte-Carlo simulator."""

from __future__ import annotations

import math

import pytest
import torch

from simulator import CrossbarConfig, Workload, evaluate
from simulator.analog_model import AnalogModel
from simulator.estimators.analytic import analytic_accuracy
from simulator.estimators.referral import layer_noise, read_factor
from tests.simulator.mitigation_data import digits, trained


def test_read_factor_bit_serial() -> None:
    """Inputs 3 and 1 at 2 bits, bit-serial: (1+4+1)/(9+1) = 0.6; one cycle per input -> 1."""
    cfg = CrossbarConfig(input_bits=2, dac_bits=1)
    assert read_factor(torch.tensor([3.0, 1.0]), cfg) == pytest.approx(0.6)
    assert read_factor(torch.tensor([3.0, 1.0]), cfg.replace(dac_bits=2)) == 1.0


def test_referred_noise_follows_mapping() -> None:
    """Differential 1-bit cells, 8-bit weights: programming σ in weight units is
    s_w · σ_p · sqrt(2 Σ_s 4^s) over 7 slices; SAF shift is zero without faults."""
    model = trained("mlp")
    x = digits()[2][:64]
    cfg = CrossbarConfig(device="generic", prog_sigma=0.05, read_sigma=0.02, saf_sa0=0.0,
                         saf_sa1=0.0)
    noise = layer_noise(cfg, model, x)
    w = model[1].weight.detach()
    s_w = float(w.abs().max()) / 127
    expected = s_w * 0.05 * math.sqrt(2 * sum(4.0**s for s in range(7)))
    assert noise["1"].additive_std == pytest.approx(expected, rel=1e-5)
    assert noise["1"].read_std == pytest.approx(expected * 0.4, rel=1e-5)
    assert noise["1"].weight_shift is None
    faulty = layer_noise(cfg.replace(saf_sa1=0.01), model, x, deterministic=False)
    # SA1 pulls every cell up: a weight's positive and negative columns move alike, so the
    # mean shift is zero in expectation for |q|=0 and never exceeds the full-scale step.
    assert faulty["1"].weight_var is not None and float(faulty["1"].weight_var.min()) > 0


@pytest.mark.slow
def test_analytic_accuracy_tracks_monte_carlo() -> None:
    """On the trained tiny CNN, the analytic accuracy is within 0.06 of the simulator's
    Monte-Carlo (6 programmed chips) at low and high variation, and falls with σ."""
    torch.set_num_threads(1)
    model = trained("cnn")
    _, _, xt, yt = digits()
    xt, yt = xt[:150], yt[:150]
    results = []
    for sigma in (0.03, 0.2):
        cfg = CrossbarConfig(prog_sigma=sigma, read_sigma=sigma / 3, rows=64, cols=64)
        pred = analytic_accuracy(cfg, model, xt, yt, seed=0)
        analog = AnalogModel(model, cfg)
        analog.calibrate(xt)
        gen = torch.Generator().manual_seed(0)
        analog.program(6, gen)
        analog.set_generator(gen)
        with torch.no_grad():
            mc = float((analog(xt).argmax(-1) == yt).float().mean())
        assert pred.accuracy == pytest.approx(mc, abs=0.06), (sigma, pred.accuracy, mc)
        results.append(pred.accuracy)
    assert results[1] < results[0] - 0.1



@pytest.mark.slow
def test_analytic_tier_tracks_monte_carlo(digits_cnn: Workload) -> None:
    """analytic_below=0.05 makes fidelity 0 analytic: the estimate is within 0.05 of the
    fidelity-0 Monte-Carlo at σ_p = 0.1 and reports the predicted spread."""
    cfg = CrossbarConfig(prog_sigma=0.1, read_sigma=0.02)
    mc = evaluate(cfg, digits_cnn, 0.0, seed=0)
    an = evaluate(cfg.replace(analytic_below=0.05), digits_cnn, 0.0, seed=0)
    assert an.details["estimator"] == "moments" and mc.details["estimator"] == "montecarlo"
    assert an.accuracy == pytest.approx(mc.accuracy, abs=0.05)
    assert an.details["predicted_accuracy_std"] > 0
    assert an.area_mm2 == mc.area_mm2 and an.details["tiles"] == mc.details["tiles"]
    assert an.details["n_test"] == mc.details["n_test"]
