"""Noise referral (simulator.estimators.referral) and the analytic accuracy estimator
(simulator.estimators.analytic), against the mapping and the Monte-Carlo simulator."""

from __future__ import annotations

import math

import pytest
import torch

from simulator import CrossbarConfig, Workload, evaluate
from simulator.analog_model import AnalogModel
from simulator.estimators.analytic import analytic_accuracy
from simulator.estimators.referral import _prog_shape_rms, _saf_moments, layer_noise, read_factor
from simulator.mapping import quantize_symmetric, slice_magnitude
from simulator.params import DEVICE_PRESETS
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
    cfg = CrossbarConfig(
        device="generic", prog_sigma=0.05, read_sigma=0.02, saf_sa0=0.0, saf_sa1=0.0
    )
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


def test_weight_tables_equal_the_per_weight_definitions() -> None:
    """The stuck-at-fault moments and the programming-shape RMS, computed on tables over the
    weight integers, equal their per-cell definitions (both encodings, wan2022's σ(g))."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(30, 7)
    for kw in ({}, {"encoding": "offset", "cell_bits": 2, "weight_bits": 6}):
        cfg = CrossbarConfig(device="wan2022", saf_sa0=0.02, saf_sa1=0.01, **kw)
        q, s_w = quantize_symmetric(layer.weight.detach(), cfg.weight_bits)
        shift, var = _saf_moments(q, s_w, layer.weight.shape, cfg)
        top, p0, p1 = cfg.levels - 1, cfg.saf_sa0, cfg.saf_sa1
        digit_w = 2.0 ** (torch.arange(cfg.slices, dtype=torch.float64) * cfg.cell_bits)
        if cfg.encoding == "differential":
            cols = [
                (slice_magnitude(q.clamp_min(0), cfg.slices, cfg.cell_bits), 1.0),
                (slice_magnitude((-q).clamp_min(0), cfg.slices, cfg.cell_bits), -1.0),
            ]
        else:
            offset = 2 ** (cfg.weight_bits - 1) - 1
            cols = [
                (slice_magnitude(q + offset, cfg.slices, cfg.cell_bits), 1.0),
                (torch.zeros_like(q).unsqueeze(-1).expand(*q.shape, cfg.slices), -1.0),
            ]
        mean = torch.zeros(q.shape, dtype=torch.float64)
        second = torch.zeros(q.shape, dtype=torch.float64)
        for d, sign in cols:  # per cell: -d w.p. p0, top-d w.p. p1 (independent cells)
            d = d.double()
            m = -p0 * d + p1 * (top - d)
            v = p0 * d * d + p1 * (top - d) ** 2 - m * m
            if cfg.encoding == "offset" and sign < 0:
                v = v[..., :1].expand_as(v)  # the reference column: one cell per slice
                mean -= (m * digit_w).sum(-1)
                second += v[..., 0] * digit_w.sum() ** 2
                continue
            mean += sign * (m * digit_w).sum(-1)
            second += (v * digit_w**2).sum(-1)
        torch.testing.assert_close(shift, mean * s_w, rtol=1e-12, atol=1e-15)
        torch.testing.assert_close(var, second * s_w**2, rtol=1e-12, atol=1e-15)
        shape = DEVICE_PRESETS[cfg.device].prog_shape
        parts = (
            [q.clamp_min(0), (-q).clamp_min(0)]
            if cfg.encoding == "differential"
            else [q + 2 ** (cfg.weight_bits - 1) - 1]
        )
        num = den = 0.0
        for part in parts:
            x = slice_magnitude(part, cfg.slices, cfg.cell_bits).double() / top
            s = sum(a * x**i for i, a in enumerate(shape))
            w4 = 4.0 ** (torch.arange(cfg.slices, dtype=torch.float64) * cfg.cell_bits)
            num, den = num + float((s * s * w4).sum()), den + float(w4.sum()) * q.numel()
        assert len(shape) > 1
        assert _prog_shape_rms(q, cfg) == pytest.approx(math.sqrt(num / den), rel=1e-12)
        assert abs(math.sqrt(num / den) - 1.0) > 1e-3  # the shape matters: can fail


def test_deterministic_errors_equal_the_programmed_nominal_model(monkeypatch) -> None:
    """The deterministic output errors (integer-product read of each nominal layer) equal
    those of the noiseless AnalogModel programmed once, within the ADC's tie-breaking, on
    every row; the default random subset of rows is within 15 % of them."""
    model = trained("cnn")
    x = digits()[0][:64]
    cfg = CrossbarConfig(cell_bits=2, dac_bits=4, prog_sigma=0.0, read_sigma=0.0)
    subset = layer_noise(cfg, model, x)
    monkeypatch.setattr("simulator.estimators.referral.DETERMINISTIC_VECTORS", 1 << 30)
    noise = layer_noise(cfg, model, x)
    analog = AnalogModel(model, cfg, nonidealities=[])
    analog.calibrate(x)
    analog.program(1)
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    hooks = [
        m.register_forward_hook(lambda mod, i, o, n=n: seen.__setitem__(n, (i[0], o)))
        for n, m in analog.float_model.named_modules()
        if n in analog.layers
    ]
    with torch.no_grad():
        analog.float_model(x)
    for h in hooks:
        h.remove()
    for name, layer in analog.layers.items():
        x_in, y = seen[name]
        with torch.no_grad():
            err = (layer(x_in) - y).double()
        dims = [d for d in range(err.dim()) if d != 1]
        want = float(((err - err.mean(dim=dims, keepdim=True)) ** 2).mean())
        assert noise[name].output_var == pytest.approx(want, rel=0.02), name
        assert noise[name].output_var > 0
        assert subset[name].output_var == pytest.approx(want, rel=0.15), name


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


def test_capture_is_cached_per_model_and_batch() -> None:
    """A second referral of the same model and batch reuses the float pass (the same capture
    objects) and refers the same noise; another batch is captured anew."""
    from simulator.estimators.captures import captured_layers, clear_capture_cache

    model = trained("cnn")
    x = digits()[0][:32]
    cfg = CrossbarConfig(cell_bits=2, dac_bits=4)
    clear_capture_cache()
    first = layer_noise(cfg, model, x)
    cached = captured_layers(model, x, 512)
    again = layer_noise(cfg, model, x)
    assert captured_layers(model, x, 512) is cached
    assert captured_layers(model, x[:16], 512) is not cached
    for name, noise in first.items():
        assert again[name].output_var == noise.output_var
        assert again[name].read_factor == noise.read_factor
        assert torch.equal(again[name].output_shift, noise.output_shift)
