r"""Workloads on scikit-learn's bundled 8x8 handwritten digits (``load_digits``, 1797 images).

Fixed split: stratified 80/20 (``train_test_split(test_size=0.2, stratify=y,
random_state=0)``): 1437 training and 360 test images, pixels scaled from 0..16 to [0, 1].
Both models train in a few seconds on one core and are cached (see
:func:`simulator.workloads.base.load_or_train`).
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor, nn

from simulator.workloads.base import (
    OptionSpec,
    TrainSpec,
    Workload,
    trained_workload,
    workload_info,
)

__all__ = ["MLP_SPEC", "CNN_SPEC", "digits_cnn", "digits_mlp", "load_digits_split"]

MLP_SPEC = TrainSpec(epochs=15, lr=5e-3, batch_size=64, weight_decay=1e-4, seed=0)
"""Training of ``digits-mlp``."""

CNN_SPEC = TrainSpec(epochs=25, lr=5e-3, batch_size=128, weight_decay=1e-4, seed=0)
"""Training of ``digits-cnn``."""

_OPTIONS = (OptionSpec(name="retrain", type="bool", default=False,
                       description="Train even if a cached model exists."),)
"""The options of both digits workloads (the model cache is ``$XBAR_CACHE_DIR``)."""


@lru_cache(maxsize=1)
def load_digits_split() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""``(x_train, y_train, x_test, y_test)``: `N x 1 x 8 x 8` float32 in [0, 1], int64 labels."""
    # scikit-learn is heavy to import and only needed the first time the split is loaded.
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(data.target, dtype=torch.int64)
    idx_train, idx_test = train_test_split(
        torch.arange(len(y)).numpy(), test_size=0.2, stratify=y.numpy(), random_state=0
    )
    idx_train, idx_test = torch.as_tensor(idx_train), torch.as_tensor(idx_test)
    return x[idx_train], y[idx_train], x[idx_test], y[idx_test]


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def _cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 8 x 4 x 4
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 16 x 2 x 2
        nn.Flatten(),
        nn.Linear(64, 10),
    )


def _build(
    name: str,
    description: str,
    build,
    spec: TrainSpec,
    retrain: bool,
) -> Workload:
    return trained_workload(name, description, "sklearn-digits", build, spec,
                            load_digits_split(), retrain=retrain)


@workload_info(
    name="digits-mlp",
    description="64-64-10 MLP on scikit-learn's 8x8 digits",
    dataset="sklearn-digits",
    input_shape=(1, 8, 8),
    num_classes=10,
    options=_OPTIONS,
)
def digits_mlp(retrain: bool = False) -> Workload:
    """The ``digits-mlp`` workload (2 crossbar layers).

    Args:
        retrain: Train even if a cached model exists (the cache is ``$XBAR_CACHE_DIR`` or
            ``~/.cache/xbar-dse``).
    """
    return _build(
        "digits-mlp", digits_mlp.workload_info.description, _mlp, MLP_SPEC, retrain
    )


@workload_info(
    name="digits-cnn",
    description="2-conv + 1-FC CNN on scikit-learn's 8x8 digits",
    dataset="sklearn-digits",
    input_shape=(1, 8, 8),
    num_classes=10,
    options=_OPTIONS,
)
def digits_cnn(retrain: bool = False) -> Workload:
    """The ``digits-cnn`` workload (3 crossbar layers).

    Args:
        retrain: Train even if a cached model exists (the cache is ``$XBAR_CACHE_DIR`` or
            ``~/.cache/xbar-dse``).
    """
    return _build(
        "digits-cnn", digits_cnn.workload_info.description, _cnn, CNN_SPEC, retrain
    )
