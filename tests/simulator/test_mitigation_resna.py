"""ReSNA-style noise-aware fine-tuning."""

from __future__ import annotations

import math

import pytest
import torch

from simulator.config import CrossbarConfig
from simulator.mapping import crossbar_layers
from simulator.mitigation.resna import (
    CrossbarNoiseInjector,
    epochs_for_fidelity,
    mapping_factor,
    noise_aware_finetune,
)
from tests.simulator.mitigation_data import digits, trained


def test_injected_weight_noise_has_the_configured_sigma() -> None:
    """Programming σ_p of the window on each of a differential pair gives weight noise of
    σ_p·sqrt(2)·max|w| (σ_p small enough that clipping at 0 S is rare); matched to the 8-bit,
    1-bit-cell mapping it is sqrt(Σ_{s<7} 4^s)/127 = 0.582 of that; the gradient passes
    straight through (d noisy / d w = 1)."""
    cfg = CrossbarConfig(prog_sigma=0.02, read_sigma=0.0)
    assert mapping_factor(cfg) == pytest.approx(math.sqrt(sum(4**s for s in range(7))) / 127)
    matched = CrossbarNoiseInjector(cfg).weight(
        "l", torch.full((200, 200), 1.0), torch.Generator().manual_seed(0)
    )
    assert float((matched - 1.0).std()) == pytest.approx(
        0.02 * 2**0.5 * mapping_factor(cfg), rel=0.03
    )
    inj = CrossbarNoiseInjector(cfg, match_mapping=False)
    w = torch.full((200, 200), 0.5, requires_grad=True)
    w.data[0, 0] = 1.0  # max |w| = 1
    noisy = inj.weight("l", w, torch.Generator().manual_seed(0))
    assert float((noisy - w).detach().std()) == pytest.approx(0.02 * 2**0.5, rel=0.03)
    noisy.sum().backward()
    assert torch.equal(w.grad, torch.ones_like(w))
    zero = CrossbarNoiseInjector(cfg, noise_scale=0.0, match_mapping=False).weight(
        "l", w, torch.Generator()
    )
    torch.testing.assert_close(zero, w)


def test_read_noise_scales_with_input_norm() -> None:
    """Read noise on a Linear output has σ = σ_r·sqrt(2)·max|w|·||x||."""
    cfg = CrossbarConfig(prog_sigma=0.0, read_sigma=0.02)
    inj = CrossbarNoiseInjector(cfg, match_mapping=False)
    lin = torch.nn.Linear(16, 4000, bias=False)
    with torch.no_grad():
        lin.weight.fill_(0.25)
    x = torch.full((1, 16), 0.5)  # ||x|| = 2
    y = lin(x)
    out = inj.output("l", y, x, lin, torch.Generator().manual_seed(1))
    assert float((out - y).detach().std()) == pytest.approx(0.02 * 2**0.5 * 0.25 * 2.0, rel=0.05)


@pytest.mark.slow
def test_finetuning_improves_accuracy_under_noise() -> None:
    """Three epochs of noise-aware fine-tuning at σ_p = 0.26 raise the accuracy of the tiny CNN
    averaged over 6 noisy weight draws (same draws before/after) by > 3 points, while plain
    fine-tuning without noise does not."""
    model = trained("cnn")
    x, y, xt, yt = digits()
    cfg = CrossbarConfig(prog_sigma=0.26, read_sigma=0.0)

    def noisy_accuracy(m: torch.nn.Module) -> float:
        inj = CrossbarNoiseInjector(cfg)
        gen = torch.Generator().manual_seed(123)
        accs = []
        for _ in range(6):
            params = {
                f"{n}.weight": inj.weight(n, mod.weight, gen) for n, mod in crossbar_layers(m)
            }
            with torch.no_grad():
                out = torch.func.functional_call(m, params, (xt,), strict=False)
            accs.append(float((out.argmax(-1) == yt).float().mean()))
        return sum(accs) / len(accs)

    base = noisy_accuracy(model)
    tuned = noise_aware_finetune(model, x, y, cfg, epochs=3, seed=0)
    plain = noise_aware_finetune(model, x, y, cfg, epochs=3, noise_scale=0.0, seed=0)
    assert tuned.epochs == 3 and len(tuned.losses) == 3 and tuned.train_time_s > 0
    assert noisy_accuracy(tuned.model) > base + 0.03
    assert noisy_accuracy(plain.model) < base + 0.03
    # The input model is left untouched.
    assert not any(
        p1 is p2 for p1, p2 in zip(model.parameters(), tuned.model.parameters(), strict=True)
    )


def test_epochs_for_fidelity() -> None:
    """Fidelity scales the epoch budget; out-of-range values raise ValueError naming them."""
    assert [epochs_for_fidelity(f, 5) for f in (0.0, 0.5, 1.0)] == [0, 2, 5]
    with pytest.raises(ValueError, match="fidelity"):
        epochs_for_fidelity(1.5, 5)
    with pytest.raises(ValueError, match="epochs"):
        noise_aware_finetune(
            trained("mlp"), torch.zeros(1, 64), torch.zeros(1), CrossbarConfig(), epochs=-1
        )
