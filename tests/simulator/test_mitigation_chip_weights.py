"""A programmed chip's float weights (``W_chip``) and compensators trained against them."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from simulator.analog_model import AnalogModel
from simulator.config import CrossbarConfig
from simulator.mapping import crossbar_layers
from simulator.mitigation.apply import overhead, prepare
from simulator.mitigation.chip_weights import (
    ChipWeightInjector,
    chip_weights,
    noiseless_chip_weights,
)
from simulator.mitigation.compensation import (
    insert_compensators,
    train_compensators,
    without_compensators,
)
from simulator.workloads import Workload
from tests.simulator.mitigation_data import accuracy, digits, trained

QUIET = {"prog_sigma": 0.0, "read_sigma": 0.0, "saf_sa0": 0.0, "saf_sa1": 0.0}


def _programmed(model: nn.Module, config: CrossbarConfig, x: torch.Tensor) -> AnalogModel:
    analog = AnalogModel(model, config, ir_drop="first_order", nonidealities=[], adc=False,
                         dtype=torch.float64)
    analog.calibrate(x)
    analog.program(1, torch.Generator().manual_seed(0))
    return analog


@pytest.mark.parametrize("layer", [nn.Linear(80, 6), nn.Conv2d(4, 5, 3, padding=1)])
@pytest.mark.parametrize("encoding", ["differential", "offset"])
def test_chip_weights_reproduce_the_per_slice_read(layer: nn.Module, encoding: str) -> None:
    """On inputs on the layer's quantization grid, the float layer with ``W_chip`` gives the
    simulator's bit-serial, per-slice read through first-order wires (ideal periphery, float64)
    to 1e-6 relative (the analog layer keeps its bias in float32), and ``W_chip`` differs from
    the float weight by the IR drop (> 1 %)."""
    torch.manual_seed(0)
    model = nn.Sequential(layer).double()
    shape = (32, 80) if isinstance(layer, nn.Linear) else (4, 4, 6, 6)
    x = torch.rand(shape, dtype=torch.float64)
    cfg = CrossbarConfig(rows=32, cols=32, wire_r_ohm=20.0, encoding=encoding, **QUIET)
    analog = _programmed(model, cfg, x)
    (name, alayer), = analog.layers.items()
    xq = torch.round(x / alayer.input_scale).clamp(0, 2**cfg.input_bits - 1) * alayer.input_scale
    w = chip_weights(analog)[name].double()
    assert w.shape == layer.weight.shape
    def fn(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return F.linear(a, b, c) if isinstance(layer, nn.Linear) else F.conv2d(a, b, c, padding=1)

    with torch.no_grad():
        ref = analog(xq)[0]
        got = fn(xq, w, layer.bias)
    assert float((got - ref).abs().max() / ref.abs().max()) < 1e-6
    rel = float((w - layer.weight.detach()).norm() / layer.weight.detach().norm())
    assert rel > 0.01


def test_injector_keys_follow_the_wrapped_model_and_pass_gradients() -> None:
    """``for_model`` re-keys the plain network's chip weights to the compensated network's
    layer names; ``weight`` returns ``W_chip`` exactly, with the gradient of the clean
    weight (straight-through); a layer-count or shape mismatch is refused by name."""
    x, _, _, _ = digits()
    cfg = CrossbarConfig(rows=32, cols=32, wire_r_ohm=5.0, **QUIET)
    analog = _programmed(copy.deepcopy(trained("mlp")).double(), cfg, x[:64].double())
    weights = chip_weights(analog)
    wrapped = insert_compensators(copy.deepcopy(trained("mlp")), list(weights))
    inj = ChipWeightInjector.for_model(weights, wrapped)
    assert sorted(inj.weights) == sorted(f"{n}.layer" for n in weights)
    name = next(iter(inj.weights))
    w = wrapped.get_submodule(name).weight.detach().clone().requires_grad_(True)
    out = inj.weight(name, w, torch.Generator())
    assert torch.equal(out.detach(), inj.weights[name])
    out.sum().backward()
    assert torch.equal(w.grad, torch.ones_like(w))
    with pytest.raises(ValueError, match="chip weights for"):
        ChipWeightInjector.for_model(dict(list(weights.items())[:1]), wrapped)
    bad = {k: v.t() for k, v in weights.items()}
    with pytest.raises(ValueError, match="is \\("):
        ChipWeightInjector.for_model(bad, wrapped)


def _on_chip(net: nn.Module, weights: dict[str, torch.Tensor], x: torch.Tensor,
             y: torch.Tensor) -> float:
    """Accuracy of ``net`` with the chip's weights in place of its crossbar layers'."""
    inj = ChipWeightInjector.for_model(weights, net)
    with torch.no_grad():
        params = {f"{n}.weight": w for n, w in inj.weights.items()}
        out = torch.func.functional_call(net, params, (x,), strict=False)
    return float((out.argmax(-1) == y).float().mean())


def test_compensators_trained_on_the_chip_undo_its_ir_drop() -> None:
    """digits-mlp on 64x64 arrays with 300 Ω wires loses accuracy to IR drop alone;
    compensators trained against that chip's weights recover most of the loss, far more than
    compensators trained on device noise only (what CorrectNet+ prescribes), which do not
    undo a systematic gain loss."""
    x, y, xt, yt = digits()
    cfg = CrossbarConfig(rows=64, cols=64, wire_r_ohm=300.0, **QUIET)
    analog = _programmed(copy.deepcopy(trained("mlp")).double(), cfg, x[:256].double())
    weights = chip_weights(analog)
    plain = trained("mlp")

    def on_chip(net: nn.Module) -> float:
        return _on_chip(net, weights, xt, yt)

    names = list(weights)
    software = accuracy(plain, xt, yt)
    off = on_chip(plain)
    noise_only = train_compensators(plain, names, x, y, CrossbarConfig(prog_sigma=0.03), epochs=3)
    aware = train_compensators(plain, names, x, y, cfg, epochs=3, chip=weights)
    got = on_chip(aware)
    assert off < software - 0.2, (off, software)  # 0.607 of 0.940 when written
    assert got > max(on_chip(noise_only), off) + 0.15, (got, on_chip(noise_only), off)
    assert got - off > 0.6 * (software - off), (got, off, software)  # 0.887 when written


def test_chip_target_knob_trains_against_the_configured_chip(digits_cnn: Workload) -> None:
    """``compensation_target="chip"`` (with ``compensation="all"``): ``prepare`` trains the
    compensators against the config's own noiseless chip (64x64 arrays, 300 Ω wires), so on
    that chip they beat the ``"noise"`` target's; the details name the target, and a change
    of wire resistance is a different preparation (not served from the cache)."""
    base = {"rows": 64, "cols": 64, "wire_r_ohm": 300.0, "compensation": "all",
            "prog_sigma": 0.01, "read_sigma": 0.003}
    cfg = CrossbarConfig(**base, compensation_target="chip")
    chip = prepare(cfg, digits_cnn, 1.0, 0)
    noise = prepare(CrossbarConfig(**base), digits_cnn, 1.0, 0)
    assert chip.details["compensation_target"] == "chip"
    assert noise.details["compensation_target"] == "noise"
    assert prepare(cfg.replace(wire_r_ohm=100.0), digits_cnn, 1.0, 0) is not chip
    assert prepare(cfg, digits_cnn, 1.0, 0) is chip
    weights = noiseless_chip_weights(digits_cnn.model, cfg)
    x, y = digits_cnn.x_test, digits_cnn.y_test
    got, ref = _on_chip(chip.model, weights, x, y), _on_chip(noise.model, weights, x, y)
    assert got > ref + 0.05, (got, ref)  # 0.906 vs 0.294 when written


def test_remap_then_chip_compensation(digits_cnn: Workload) -> None:
    """With ``remap`` and ``compensation_target="chip"`` together, ``prepare`` re-maps first
    and trains the compensators inside the re-mapped layers against the re-mapped chip (the
    placement the chip holds): they sit on the re-mapped network's crossbar layers, cost the
    same digital MACs as without re-mapping (same outputs per layer), and on that chip beat
    the re-mapped network without them."""
    base = {"rows": 64, "cols": 64, "wire_r_ohm": 300.0, "compensation": "all",
            "compensation_target": "chip", "prog_sigma": 0.01, "read_sigma": 0.003}
    cfg = CrossbarConfig(**base, remap="srs")
    both = prepare(cfg, digits_cnn, 1.0, 0)
    plain = prepare(CrossbarConfig(**base), digits_cnn, 1.0, 0)
    mapped = without_compensators(both.model)
    assert both.details["remap"] == "srs"
    assert both.compensated == [name for name, _ in crossbar_layers(mapped)]
    assert all(".linear" in name for name in both.compensated), both.compensated
    macs = overhead(cfg, digits_cnn, both)["compensation"]["macs"]
    assert macs == overhead(CrossbarConfig(**base), digits_cnn, plain)["compensation"]["macs"]
    assert macs > 0
    weights = noiseless_chip_weights(mapped, cfg)
    x, y = digits_cnn.x_test, digits_cnn.y_test
    got, off = _on_chip(both.model, weights, x, y), _on_chip(mapped, weights, x, y)
    assert got > off + 0.05, (got, off)
