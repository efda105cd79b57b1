r"""CIFAR-10 with a small VGG-style CNN, read from the standard python-pickle batches.

The data are not bundled: the operator unpacks ``cifar-10-python.tar.gz`` under the data root
``$XBAR_DATA_DIR`` (on every machine that loads the workload), giving
``$XBAR_DATA_DIR/cifar-10-batches-py/`` with ``data_batch_1`` .. ``data_batch_5`` and
``test_batch``. Each file is a pickled dict with ``b"data"`` (uint8, ``N x 3072``,
channel-major 32x32 planes) and ``b"labels"``. Pixels are scaled to [0, 1] (no mean
subtraction, so first-layer inputs are non-negative, as a crossbar's DACs expect). Training
(Adam, ``epochs`` passes) runs once and is cached.

Why unpickling is acceptable here: the only files :func:`pickle.load` ever reads are those
fixed names inside the operator's ``XBAR_DATA_DIR`` (operator-installed data, as trusted as the
code). No workload option names a folder or file, so neither a study definition nor a stored
evaluator spec can point the unpickler at a file of its choosing.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from simulator.errors import WorkloadError
from simulator.workloads.base import (
    DATA_DIR_ENV,
    OptionSpec,
    TrainSpec,
    Workload,
    data_dir,
    trained_workload,
    workload_info,
)

__all__ = ["BATCH_FOLDER", "cifar10", "load_cifar10", "vgg_small"]

BATCH_FOLDER = "cifar-10-batches-py"
"""Folder of the batches under ``$XBAR_DATA_DIR`` (as unpacked from the tarball)."""

TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"


def _batch_dir() -> Path:
    """``$XBAR_DATA_DIR/cifar-10-batches-py``, holding at least the test batch."""
    root = data_dir()
    if root is None:
        raise WorkloadError(
            f"workload 'cifar10' needs the CIFAR-10 python batches: set {DATA_DIR_ENV} to a "
            f"folder holding {BATCH_FOLDER}/ (unpacked cifar-10-python.tar.gz)."
        )
    folder = root / BATCH_FOLDER
    if not (folder / TEST_FILE).is_file():
        raise WorkloadError(
            f"{DATA_DIR_ENV} holds no {BATCH_FOLDER}/{TEST_FILE}; unpack cifar-10-python.tar.gz "
            "there."
        )
    return folder


def _read_batch(path: Path) -> tuple[Tensor, Tensor]:
    try:
        with path.open("rb") as f:
            batch = pickle.load(f, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (OSError, pickle.UnpicklingError, KeyError, TypeError, EOFError) as e:
        raise WorkloadError(f"cannot read CIFAR-10 batch {path.name!r}: {e}") from e
    if data.ndim != 2 or data.shape[1] != 3072 or data.shape[0] != labels.shape[0]:
        raise WorkloadError(
            f"{path.name!r} is not a CIFAR-10 batch (data {data.shape}, labels {labels.shape})."
        )
    x = torch.from_numpy(data.reshape(-1, 3, 32, 32).astype(np.float32) / 255.0)
    return x, torch.from_numpy(labels)


def load_cifar10(train_limit: int | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""``(x_train, y_train, x_test, y_test)`` from ``$XBAR_DATA_DIR/cifar-10-batches-py``:
    `N x 3 x 32 x 32` in [0, 1], int64 labels.

    Training batches that are missing are skipped (at least one is required).

    Raises:
        WorkloadError: If the variable is unset, the test batch or every training batch is
            missing, or a file is not in the CIFAR-10 format.
    """
    folder = _batch_dir()
    parts = [_read_batch(folder / name) for name in TRAIN_FILES if (folder / name).is_file()]
    if not parts:
        raise WorkloadError(f"{DATA_DIR_ENV}/{BATCH_FOLDER} holds no data_batch_1..5.")
    x_train = torch.cat([p[0] for p in parts])
    y_train = torch.cat([p[1] for p in parts])
    if train_limit is not None:
        x_train, y_train = x_train[:train_limit], y_train[:train_limit]
    x_test, y_test = _read_batch(folder / TEST_FILE)
    return x_train, y_train, x_test, y_test


def vgg_small(num_classes: int = 10) -> nn.Module:
    """A VGG-style CNN: three 3x3 conv/ReLU/max-pool stages (32, 64, 128 channels), one FC."""
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 32 x 16 x 16
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 64 x 8 x 8
        nn.Conv2d(64, 128, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 128 x 4 x 4
        nn.Flatten(),
        nn.Linear(128 * 4 * 4, num_classes),
    )


@workload_info(
    name="cifar10",
    description="VGG-style CNN (3 conv + 1 FC) on CIFAR-10 (operator-installed python batches)",
    dataset="cifar10",
    input_shape=(3, 32, 32),
    num_classes=10,
    needs_data_dir=True,
    data_files=(f"{BATCH_FOLDER}/{TEST_FILE}",),
    options=(
        OptionSpec(name="epochs", type="int", default=8, low=1, high=50,
                   description="Training epochs (Adam, lr 1e-3, batch 128)."),
        OptionSpec(name="train_limit", type="int", default=None, low=1, high=50_000,
                   nullable=True, description="Use only the first N training images."),
        OptionSpec(name="test_limit", type="int", default=1000, low=1, high=10_000,
                   nullable=True, description="Keep only the first N test images."),
        OptionSpec(name="retrain", type="bool", default=False,
                   description="Train even if a cached model exists."),
    ),
)
def cifar10(
    epochs: int = 8,
    train_limit: int | None = None,
    test_limit: int | None = 1000,
    retrain: bool = False,
) -> Workload:
    """The ``cifar10`` workload, on the batches under ``$XBAR_DATA_DIR`` (module docstring);
    the model is cached in ``$XBAR_CACHE_DIR``.

    Args:
        epochs: Training epochs (Adam, lr 1e-3, batch 128).
        train_limit: Use only the first ``train_limit`` training images.
        test_limit: Keep only the first ``test_limit`` test images (default 1000: one
            analog read of this network costs ~14 M column conversions per image and draw;
            ``None`` keeps all 10000).
        retrain: Train even if a cached model exists.

    Raises:
        WorkloadError: If the data are missing or malformed, or an option is out of range.
    """
    for name, value in (("epochs", epochs), ("train_limit", train_limit),
                        ("test_limit", test_limit)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise WorkloadError(f"{name} must be a positive int, got {value!r}.")
    x_train, y_train, x_test, y_test = load_cifar10(train_limit)
    if test_limit is not None:
        x_test, y_test = x_test[:test_limit], y_test[:test_limit]
    spec = TrainSpec(epochs=epochs, lr=1e-3, batch_size=128, weight_decay=5e-4, seed=0)
    return trained_workload(
        "cifar10", cifar10.workload_info.description, "cifar10", vgg_small, spec,
        (x_train, y_train, x_test, y_test), retrain=retrain, needs_data_dir=True,
        metadata={"n_train": int(x_train.shape[0])})
