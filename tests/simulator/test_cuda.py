"""CUDA checks that run only where a GPU is visible (skipped cleanly on CPU-only machines)."""

from __future__ import annotations

import pytest
import torch

from app.execution.worker import GPU_RESOURCE, worker_resources

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_worker_declares_every_visible_gpu() -> None:
    n = torch.cuda.device_count()
    assert worker_resources(n) == {GPU_RESOURCE: float(n)}


def test_read_noise_follows_the_current_device() -> None:
    from simulator.nonideal.read_noise import ReadNoise

    gen = torch.Generator(device="cuda").manual_seed(0)
    currents = torch.zeros(64, 32, 256, device="cuda")  # images x rows-groups x columns
    v_norm = torch.full((64, 32), 2.0, device="cuda")
    out = ReadNoise(0.5).apply_to_currents(currents, v_norm, gen)
    assert out.device.type == "cuda"
    assert abs(out.std().item() - 1.0) < 0.02  # sigma 0.5 µS x ||v|| 2
