r"""NeuroSim-sized networks (``vgg8``, ``resnet20``) on digits upsampled to CIFAR's 32x32x3.

**A stand-in for CIFAR-10**, offline and bundled: scikit-learn's 8x8 digits
(:func:`simulator.workloads.digits.load_digits_split`: the same stratified 1437 / 360 split)
are resized to 32x32 by bilinear interpolation (``F.interpolate``, ``align_corners=False``)
and repeated over 3 channels, so the networks see CIFAR-shaped inputs and every layer has
CIFAR's shapes (positions, unrolled rows, columns), while training stays a few CPU minutes and
the clean accuracy is high enough that an accuracy drop on the crossbar is meaningful. The
task is easier than CIFAR-10: absolute accuracies do not transfer, drops and orderings are
what it measures. Operators with the real data use the ``cifar10`` workload.

Training is deterministic (seeded, CPU, a bounded number of Adam epochs) and cached like the
other bundled workloads (:func:`simulator.workloads.base.load_or_train`). ``divisor`` divides
every hidden width (tests use a small one; ``1`` is the published network).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import torch.nn.functional as F
from torch import Tensor, nn

from simulator.workloads.architectures import resnet20, vgg8
from simulator.workloads.base import (
    OptionSpec,
    TrainSpec,
    Workload,
    stratified_order,
    trained_workload,
    workload_info,
)
from simulator.workloads.digits import load_digits_split

__all__ = ["IMAGE_SIZE", "load_digits32_split", "resnet20_digits", "vgg8_digits"]

IMAGE_SIZE = 32
"""Side of the upsampled images [pixels] (CIFAR-10's)."""

DIVISORS = (1, 2, 4, 8, 16)
"""Allowed width divisors (1 = the published network)."""

VGG8_EPOCHS = 2
"""Default training epochs of ``vgg8`` (Adam, lr 1e-3, batch 64)."""

RESNET20_EPOCHS = 6
"""Default training epochs of ``resnet20`` (Adam, lr 2e-3, batch 64)."""


@lru_cache(maxsize=1)
def load_digits32_split() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""``(x_train, y_train, x_test, y_test)``: `N x 3 x 32 x 32` float32 images in [0, 1]
    (the digits split upsampled, module docstring) and int64 labels."""
    x_train, y_train, x_test, y_test = load_digits_split()

    def up(x: Tensor) -> Tensor:
        big = F.interpolate(x, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear",
                            align_corners=False)
        return big.clamp(0.0, 1.0).expand(-1, 3, -1, -1).contiguous()

    return up(x_train), y_train, up(x_test), y_test


def _options(epochs: int) -> tuple[OptionSpec, ...]:
    return (
        OptionSpec(name="divisor", type="int", default=1, choices=DIVISORS,
                   description="Divides every hidden width (1 = the published network)."),
        OptionSpec(name="epochs", type="int", default=epochs, low=1, high=50,
                   description="Training epochs (Adam)."),
        OptionSpec(name="test_limit", type="int", default=None, low=1, high=360,
                   nullable=True,
                   description="Keep a stratified subset of this many test images."),
        OptionSpec(name="retrain", type="bool", default=False,
                   description="Train even if a cached model exists."),
    )


def _build(
    name: str,
    description: str,
    build: Callable[[], nn.Module],
    spec: TrainSpec,
    divisor: int,
    test_limit: int | None,
    retrain: bool,
) -> Workload:
    x_train, y_train, x_test, y_test = load_digits32_split()
    if test_limit is not None:
        keep = stratified_order(y_test)[:test_limit].sort().values
        x_test, y_test = x_test[keep], y_test[keep]
    return trained_workload(
        name, description, "sklearn-digits-32x32x3", build, spec,
        (x_train, y_train, x_test, y_test), retrain=retrain,
        cache_name=name if divisor == 1 else f"{name}-d{divisor}",
        metadata={"divisor": divisor, "stand_in_for": "cifar10"})


@workload_info(
    name="vgg8",
    description="NeuroSim's VGG8 on digits upsampled to 32x32x3 (a stand-in for CIFAR-10)",
    dataset="sklearn-digits-32x32x3",
    input_shape=(3, IMAGE_SIZE, IMAGE_SIZE),
    num_classes=10,
    options=_options(VGG8_EPOCHS),
)
def vgg8_digits(divisor: int = 1, epochs: int = VGG8_EPOCHS, test_limit: int | None = None,
                retrain: bool = False) -> Workload:
    """The ``vgg8`` workload (8 crossbar layers; module docstring).

    Args:
        divisor: Divides every hidden width (1 = NeuroSim's VGG8).
        epochs: Training epochs (Adam, lr 1e-3, batch 64, weight decay 1e-4).
        test_limit: Keep a stratified subset of this many of the 360 test images.
        retrain: Train even if a cached model exists (cache: ``$XBAR_CACHE_DIR``).
    """
    spec = TrainSpec(epochs=epochs, lr=1e-3, batch_size=64, weight_decay=1e-4, seed=0)
    return _build("vgg8", vgg8_digits.workload_info.description,
                  lambda: vgg8(divisor=divisor), spec, divisor, test_limit, retrain)


@workload_info(
    name="resnet20",
    description="ResNet-20 (CIFAR shapes) on digits upsampled to 32x32x3 (a CIFAR-10 stand-in)",
    dataset="sklearn-digits-32x32x3",
    input_shape=(3, IMAGE_SIZE, IMAGE_SIZE),
    num_classes=10,
    options=_options(RESNET20_EPOCHS),
)
def resnet20_digits(divisor: int = 1, epochs: int = RESNET20_EPOCHS,
                    test_limit: int | None = None, retrain: bool = False) -> Workload:
    """The ``resnet20`` workload (20 crossbar layers; module docstring).

    Args:
        divisor: Divides every hidden width (1 = 16/32/64 channels).
        epochs: Training epochs (Adam, lr 2e-3, batch 64, weight decay 1e-4).
        test_limit: Keep a stratified subset of this many of the 360 test images.
        retrain: Train even if a cached model exists (cache: ``$XBAR_CACHE_DIR``).
    """
    spec = TrainSpec(epochs=epochs, lr=2e-3, batch_size=64, weight_decay=1e-4, seed=0)
    return _build("resnet20", resnet20_digits.workload_info.description,
                  lambda: resnet20(divisor=divisor), spec, divisor, test_limit, retrain)
