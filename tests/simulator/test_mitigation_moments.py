"""Analytic moment propagation against closed forms and Monte-Carlo."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from simulator.config import CrossbarConfig
from simulator.mitigation.analytic import analytic_accuracy, layer_noise, read_factor
from simulator.mitigation.moments import (
    LayerNoise,
    accuracy_from_moments,
    analog_layers,
    monte_carlo_moments,
    propagate_moments,
    relu_moments,
)
from tests.simulator.mitigation_data import digits, trained


def _small_cnn() -> nn.Sequential:
    torch.manual_seed(3)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(24, 5),
    ).eval()
    model[4].running_mean.uniform_(-0.1, 0.1)
    model[4].running_var.uniform_(0.5, 2.0)
    return model


def _noise(model: nn.Module, rel: float = 0.05) -> dict[str, LayerNoise]:
    return {
        name: LayerNoise(
            additive_std=rel * float(m.weight.detach().abs().max()),
            read_std=0.4 * rel * float(m.weight.detach().abs().max()),
            read_factor=0.5,
            output_var=1e-4,
        )
        for name, m in analog_layers(model)
    }


def test_linear_layer_matches_closed_form() -> None:
    """One Linear layer: mean W x + b and variance Σ_j (σ_a² + σ_m² w²) x_j² + σ_r² ρ x² + q²/12."""
    torch.manual_seed(0)
    lin = nn.Linear(5, 3)
    x = torch.randn(4, 5)
    noise = LayerNoise(
        additive_std=0.1, relative_std=0.2, read_std=0.05, read_factor=0.5, output_var=0.01
    )
    trace = propagate_moments(nn.Sequential(lin), x, {"0": noise})
    w = lin.weight.detach()
    expected = (0.1**2 + 0.2**2 * w**2) @ (x**2).t() + 0.05**2 * 0.5 * (x**2).sum(1) + 0.01
    torch.testing.assert_close(trace.layers[0].mean, lin(x).detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(trace.layers[0].var, expected.t(), rtol=1e-5, atol=1e-7)
    # Output errors of distinct neurons are independent: the covariance is diagonal.
    off = trace.logit_cov - torch.diag_embed(trace.logit_cov.diagonal(dim1=-2, dim2=-1))
    assert float(off.abs().max()) == 0.0


def test_relu_moments_match_rectified_gaussian() -> None:
    """ReLU of N(μ, σ²): closed-form mean/variance equal a 10⁶-draw estimate to 3 decimals."""
    mean, var = torch.tensor([-1.0, 0.0, 0.7]), torch.tensor([0.25, 1.0, 0.49])
    m, v, slope = relu_moments(mean.double(), var.double())
    gen = torch.Generator().manual_seed(0)
    draws = torch.relu(mean + var.sqrt() * torch.randn(1_000_000, 3, generator=gen))
    torch.testing.assert_close(m.float(), draws.mean(0), atol=2e-3, rtol=0)
    torch.testing.assert_close(v.float(), draws.var(0), atol=3e-3, rtol=0)
    assert float(slope[1]) == pytest.approx(0.5)
    # Zero variance is the deterministic ReLU.
    m0, v0, _ = relu_moments(torch.tensor([-1.0, 2.0]), torch.zeros(2))
    assert m0.tolist() == [0.0, 2.0] and v0.tolist() == [0.0, 0.0]


def test_full_covariance_matches_monte_carlo_per_layer() -> None:
    """Conv/ReLU/MaxPool/BN/Linear net: predicted per-layer output variance within 8 % of a
    1000-draw Monte-Carlo of the same noise (aggregate relative error), mean within 1 %; the
    diagonal mode is worse after the second convolution (position correlations ignored)."""
    model = _small_cnn()
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    noise = _noise(model)
    full = propagate_moments(model, x, noise, mode="full").by_name()
    diag = propagate_moments(model, x, noise, mode="diag").by_name()
    mc = monte_carlo_moments(model, x, noise, n_draws=1000, seed=1)
    for name, ref in mc.items():
        err = float((full[name].var - ref.var).abs().sum() / ref.var.sum())
        assert err < 0.08, (name, err)
        merr = float((full[name].mean - ref.mean).abs().sum() / ref.mean.abs().sum())
        assert merr < 0.01, (name, merr)
    err_full = float((full["7"].var - mc["7"].var).abs().sum() / mc["7"].var.sum())
    err_diag = float((diag["7"].var - mc["7"].var).abs().sum() / mc["7"].var.sum())
    assert err_diag > err_full


def test_accuracy_from_moments_two_classes() -> None:
    """Two logits with mean gap d and independent unit variances: P(correct) = Φ(d/√2)."""
    mean = torch.tensor([[1.0, 0.0], [0.0, 0.5]])
    cov = torch.eye(2).expand(2, 2, 2).clone()
    acc, std, p = accuracy_from_moments(mean, cov, torch.tensor([0, 1]), n_samples=200_000)
    phi = [0.5 * (1 + math.erf(d / 2)) for d in (1.0, 0.5)]
    torch.testing.assert_close(p, torch.tensor(phi), atol=4e-3, rtol=0)
    assert acc == pytest.approx(sum(phi) / 2, abs=4e-3)
    assert std == pytest.approx(math.sqrt(sum(q * (1 - q) for q in phi)) / 2, abs=4e-3)


def test_unsupported_layer_is_named() -> None:
    """A module the moment model cannot handle raises ValueError naming it."""
    model = nn.Sequential(nn.Linear(4, 4), nn.Tanh())
    with pytest.raises(ValueError, match="'1'"):
        propagate_moments(model, torch.zeros(1, 4), None)
    with pytest.raises(ValueError, match="mode"):
        propagate_moments(model[:1], torch.zeros(1, 4), None, mode="bogus")
    with pytest.raises(ValueError, match="read_factor"):
        LayerNoise(read_factor=0.0)


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
    cfg = CrossbarConfig(prog_sigma=0.05, read_sigma=0.02, saf_sa0=0.0, saf_sa1=0.0)
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
    from simulator.analog import AnalogModel

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


def test_kkt_amplification_allocation() -> None:
    """Closed-form KKT allocation: the budget is spent, u_l/a_l² = λ c_l on free layers, the
    noise is (Σ sqrt(u c))²/P and beats a uniform split; a tiny contribution is pinned at
    a_min; an infeasible budget raises ValueError naming it."""
    from simulator.mitigation.amplification import allocate_amplification

    u, c = {"a": 4.0, "b": 1.0, "c": 0.25}, {"a": 1.0, "b": 2.0, "c": 1.0}
    res = allocate_amplification(u, c, budget=20.0, a_min=0.1)
    assert sum(c[n] * res.amplification[n] for n in c) == pytest.approx(20.0)
    for n in c:
        assert u[n] / res.amplification[n] ** 2 == pytest.approx(res.multiplier * c[n])
    assert res.noise == pytest.approx(sum(math.sqrt(u[n] * c[n]) for n in c) ** 2 / 20.0)
    assert res.noise < res.uniform_noise
    pinned = allocate_amplification({"a": 1.0, "b": 1e-6}, {"a": 1.0, "b": 1.0}, 4.0, a_min=1.0)
    assert pinned.amplification["b"] == 1.0 and pinned.amplification["a"] == pytest.approx(3.0)
    with pytest.raises(ValueError, match="budget"):
        allocate_amplification(u, c, budget=1.0)


def test_read_noise_contributions_are_additive() -> None:
    """Per-layer read-noise contributions of a linear network sum to the total output
    variance with every layer's read noise on, up to the second-order cross term (layer 2's
    read noise grows with layer 1's noise power): within 1 % and below the total."""
    from simulator.mitigation.amplification import read_noise_contributions

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.Linear(5, 3)).eval()
    x = torch.randn(4, 6)
    noise = {"0": LayerNoise(read_std=0.05, output_var=1e-3), "1": LayerNoise(read_std=0.02)}
    parts = read_noise_contributions(model, x, noise, mode="full")
    total = propagate_moments(model, x, noise, mode="full").logit_cov
    total_mean = float(total.diagonal(dim1=-2, dim2=-1).mean())
    assert sum(parts.values()) == pytest.approx(total_mean, rel=0.01)
    assert sum(parts.values()) < total_mean
