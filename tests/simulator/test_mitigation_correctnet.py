"""CorrectNet+-style Lipschitz regularization, per-layer ADC bits and compensation."""

from __future__ import annotations

import copy

import pytest
import torch

from simulator.config import CrossbarConfig
from simulator.mapping import crossbar_layers
from simulator.mitigation.correctnet import (
    Compensator,
    choose_adc_bits,
    compensation_overhead,
    insert_compensators,
    layer_spectral_norms,
    lipschitz_penalty,
    select_compensation,
    train_compensators,
    without_compensators,
)
from simulator.mitigation.resna import noise_aware_finetune
from tests.simulator.mitigation_data import accuracy, digits, trained


def test_lipschitz_regularization_lowers_spectral_norms() -> None:
    """Two epochs with λ = 0.05 lower every layer's largest singular value below both the
    start and a λ = 0 run of the same seed, at a clean-accuracy cost under 10 points."""
    model = trained("cnn")
    x, y, xt, yt = digits()
    cfg = CrossbarConfig(prog_sigma=0.0, read_sigma=0.0)
    plain = noise_aware_finetune(model, x, y, cfg, epochs=2, seed=0).model
    reg = noise_aware_finetune(
        model, x, y, cfg, epochs=2, seed=0, extra_loss=lambda m: 0.05 * lipschitz_penalty(m)
    ).model
    start, n_plain, n_reg = (layer_spectral_norms(m) for m in (model, plain, reg))
    for name in start:
        assert n_reg[name] < min(start[name], n_plain[name]), name
    with torch.no_grad():
        acc = float((reg(xt).argmax(-1) == yt).float().mean())
        acc0 = float((model(xt).argmax(-1) == yt).float().mean())
    assert acc > acc0 - 0.1
    expected = sum(v**2 for v in start.values())
    assert float(lipschitz_penalty(model).detach()) == pytest.approx(expected, rel=1e-5)


@pytest.mark.slow
def test_choose_adc_bits_saves_adc_energy() -> None:
    """From 6-bit ADCs, the greedy plan cuts ADC energy by > 20 % while the predicted accuracy
    stays >= 99 % of its 6-bit value; every layer stays within [2, 6] bits."""
    model = trained("cnn")
    _, _, xt, yt = digits()
    plan = choose_adc_bits(CrossbarConfig(rows=64, cols=64, adc_bits=6), model, xt[:120], yt[:120])
    assert plan.adc_energy_saving > 0.2
    assert plan.predicted_accuracy >= 0.99 * plan.baseline_predicted_accuracy
    assert all(2 <= b <= 6 for b in plan.bits.values()) and min(plan.bits.values()) < 6
    with pytest.raises(ValueError, match="target"):
        choose_adc_bits(CrossbarConfig(), model, xt[:4], yt[:4], target=1.5)


def test_compensator_is_identity_until_trained_and_freezes() -> None:
    """A fresh compensator leaves outputs unchanged; frozen, it holds buffers (no
    parameters), so the crossbar mapper keeps it digital; its MACs are positions·C²."""
    model = trained("cnn")
    xt = digits()[2][:8]
    comp = insert_compensators(copy.deepcopy(model), ["3"])
    with torch.no_grad():
        torch.testing.assert_close(comp(xt), model(xt))
    module = comp[3]
    assert isinstance(module, Compensator)
    module.freeze()
    assert not list(module.parameters(recurse=False)) and module.a.shape == (12, 12)
    over = compensation_overhead(model, ["3"], (1, 8, 8), 45)
    assert over["macs"] == 16 * 12 * 12
    assert over["energy_uj"] == pytest.approx(16 * 144 * 0.23e-6)
    with pytest.raises(ValueError, match="'9'"):
        insert_compensators(model, ["9"])


def test_compensated_layers_stay_crossbar_layers() -> None:
    """With a compensator inserted, trained or not, the crossbar layers are the plain model's
    (the wrapped layer under its own path, A and c digital), and without_compensators gives
    back the plain network's outputs and module names."""
    model = trained("cnn")
    xt = digits()[2][:8]
    plain = [name for name, _ in crossbar_layers(model)]
    comp = insert_compensators(copy.deepcopy(model), ["3"])
    with torch.no_grad():
        comp[3].a.add_(0.1)  # a non-trivial correction
    assert [name for name, _ in crossbar_layers(comp)] == ["0", "3.layer", "7"]
    comp[3].freeze()
    assert [name for name, _ in crossbar_layers(comp)] == ["0", "3.layer", "7"]
    stripped = without_compensators(comp)
    assert [name for name, _ in crossbar_layers(stripped)] == plain
    with torch.no_grad():
        torch.testing.assert_close(stripped(xt), model(xt))
        assert not torch.allclose(comp(xt), model(xt))


@pytest.mark.parametrize("method", ["exhaustive", "greedy", "reinforce"])
def test_subset_search_finds_the_best_subset(method: str) -> None:
    """On an additive reward (gains 0.3, 0.1, -0.2 per layer) every search finds {a, b};
    exhaustive evaluates all 8 subsets, greedy at most 7."""
    gain = {"a": 0.3, "b": 0.1, "c": -0.2}
    result = select_compensation(
        list(gain), lambda s: sum(gain[n] for n in s), method=method, episodes=60, seed=1
    )
    assert sorted(result.layers) == ["a", "b"]
    assert result.reward == pytest.approx(0.4)
    if method == "exhaustive":
        assert result.evaluations == 8
    if method == "greedy":
        assert result.evaluations <= 7


def test_compensator_steps_do_not_grow_with_width() -> None:
    """On a 256-wide MLP, one epoch of 512 images (8 Adam steps at lr 1e-2) keeps every
    compensator's spectral norm under 8 x lr (a step moves a layer's output by about lr
    relative, at any width) and the compensated network within 3 points of the plain one on
    clean inputs; steps of lr on every entry of A gave norms of about 6.6 and 63 % accuracy."""
    model = trained("wide")
    x, y, xt, yt = digits()
    names = [name for name, _ in crossbar_layers(model)]
    cfg = CrossbarConfig(prog_sigma=0.03, read_sigma=0.01)
    comp = train_compensators(model, names, x[:512], y[:512], cfg, epochs=1, lr=1e-2)
    norms = [float(torch.linalg.matrix_norm(m.a, ord=2)) for m in comp.modules()
             if isinstance(m, Compensator)]
    assert len(norms) == 3 and 0 < max(norms) < 8 * 1e-2
    assert accuracy(comp, xt, yt) > accuracy(model, xt, yt) - 0.03


def test_compensator_training_keeps_the_network_frozen() -> None:
    """Training compensators changes neither the network's weights nor its batch-norm running
    statistics (the network stays in eval mode), and the result is in eval mode."""
    model = trained("bn")
    x, y, _, _ = digits()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = CrossbarConfig(prog_sigma=0.05, read_sigma=0.02)
    comp = train_compensators(model, ["0", "5"], x[:256], y[:256], cfg, epochs=1)
    assert not comp.training and all(not m.training for m in comp.modules())
    after = without_compensators(comp).state_dict()
    assert after.keys() == before.keys()
    for key, value in before.items():
        torch.testing.assert_close(after[key], value, rtol=0, atol=0, msg=key)
    assert any(float(m.a.abs().max()) > 0 for m in comp.modules() if isinstance(m, Compensator))


def test_compensator_training_does_not_depend_on_output_scale() -> None:
    """Scaling the first layer by 0.01 and the next by 100 leaves the ReLU network and its
    injected noise unchanged (both are relative to the weights' range); the trained
    compensators then match: the same A, c scaled by 0.01, the same outputs. (A step of lr on
    c, whatever the output's scale, gave c 100x too large a step on the scaled network.)"""
    model = trained("wide")
    scaled = copy.deepcopy(model)
    with torch.no_grad():
        scaled[1].weight.mul_(0.01)
        scaled[1].bias.mul_(0.01)
        scaled[3].weight.mul_(100.0)
    x, y, xt, _ = digits()
    cfg = CrossbarConfig(prog_sigma=0.1, read_sigma=0.03)
    comps = [train_compensators(m, ["1", "3"], x[:256], y[:256], cfg, epochs=1, seed=3)
             for m in (model, scaled)]
    with torch.no_grad():
        torch.testing.assert_close(comps[1](xt), comps[0](xt), rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(comps[1][1].a, comps[0][1].a, rtol=1e-3, atol=1e-6)
    c_scaled, c_plain = comps[1][1].c, 0.01 * comps[0][1].c  # Adam's ε differs in a few units
    assert float((c_scaled - c_plain).norm()) < 0.05 * float(c_plain.norm())
    assert float(comps[0][1].c.abs().max()) > 1e-3
