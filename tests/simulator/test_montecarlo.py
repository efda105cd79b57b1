"""Monte-Carlo: draws are independent batch entries, seeded, and noise lowers accuracy."""

from __future__ import annotations

import pytest
import torch

from simulator import CrossbarConfig, Workload, evaluate
from simulator.analog import AnalogModel


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


@pytest.mark.slow
@pytest.mark.parametrize(
    ("field", "levels"),
    [("read_sigma", (0.0, 0.15, 0.4)), ("prog_sigma", (0.0, 0.15, 0.4)),
     ("saf_sa1", (0.0, 0.05, 0.2))],
)
def test_noise_lowers_accuracy(digits_mlp: Workload, field: str, levels: tuple) -> None:
    """Mean accuracy over draws falls monotonically as a noise level grows."""
    base = {"prog_sigma": 0.0, "read_sigma": 0.0, "saf_sa0": 0.0, "saf_sa1": 0.0}
    acc = [
        evaluate(CrossbarConfig(**{**base, field: v}), digits_mlp, 0.2, seed=0).accuracy
        for v in levels
    ]
    assert acc[0] > acc[1] > acc[2], acc
    assert acc[0] > 0.9 and acc[2] < acc[0] - 0.05
