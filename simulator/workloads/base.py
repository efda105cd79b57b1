r"""The :class:`Workload` type, training of the bundled models and their on-disk cache.

A workload is a trained float model plus its held-out test data (and a calibration batch drawn
from its training split). Bundled models are trained once, deterministically, and cached in
``XBAR_CACHE_DIR`` (default ``~/.cache/xbar-dse``) under a key hashing the architecture, the
training hyperparameters, the training data and the torch version, so a change to any of them
retrains.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from simulator.errors import WorkloadError

__all__ = [
    "CALIBRATION_SIZE",
    "TrainSpec",
    "Workload",
    "WorkloadInfo",
    "cache_dir",
    "load_or_train",
    "stratified_order",
    "workload_info",
]

logger = logging.getLogger(__name__)

CALIBRATION_SIZE = 256
"""Training samples used to calibrate input quantizers and ADC ranges."""


@dataclass(frozen=True, kw_only=True)
class WorkloadInfo:
    """What a workload is, known without loading it (listed by ``list_workloads``)."""

    name: str
    """Registry name, e.g. ``"digits-cnn"``."""
    description: str
    """One line for humans."""
    dataset: str
    """Data set name."""
    input_shape: tuple[int, ...]
    """Shape of one input sample (no batch dimension)."""
    num_classes: int
    """Number of output classes."""
    needs_data_dir: bool = False
    """Whether the user must provide the data (``data_dir`` option or an environment variable)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "dataset": self.dataset,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "needs_data_dir": self.needs_data_dir,
        }


def workload_info(**info: Any) -> Callable[[Callable[..., Workload]], Callable[..., Workload]]:
    """Decorator attaching a :class:`WorkloadInfo` to a workload factory (as ``.workload_info``).

    Third-party factories registered under the ``xbar.workloads`` entry-point group may use it
    so that ``list_workloads`` can describe them without loading them.
    """
    meta = WorkloadInfo(**info)

    def attach(factory: Callable[..., Workload]) -> Callable[..., Workload]:
        factory.workload_info = meta  # type: ignore[attr-defined]
        return factory

    return attach


@dataclass(frozen=True, kw_only=True, eq=False)
class Workload:
    r"""A trained classifier and its data.

    Tensors: ``x_test`` is `N x input_shape`, ``y_test`` is `N` (int64 labels), ``x_calib`` is
    `n_calib x input_shape` (from the training split), ``x_train``/``y_train`` the training
    split (for noise-aware fine-tuning; may be ``None``).
    """

    name: str
    """Registry name."""
    description: str
    """One line for humans."""
    dataset: str
    """Data set name."""
    model: nn.Module
    """The trained float model, in eval mode."""
    x_test: Tensor
    """Held-out inputs, `N x input_shape`."""
    y_test: Tensor
    """Held-out labels, `N` int64."""
    x_calib: Tensor
    """Calibration inputs from the training split, `n_calib x input_shape`."""
    x_train: Tensor | None = None
    """Training inputs (optional)."""
    y_train: Tensor | None = None
    """Training labels (optional)."""
    num_classes: int = 10
    """Number of classes."""
    needs_data_dir: bool = False
    """Whether the data came from a user-provided directory."""
    from_cache: bool = False
    """True when the model was loaded from the disk cache instead of trained now."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """JSON-serializable facts (hyperparameters, clean accuracy, cache key)."""

    def __post_init__(self) -> None:
        if self.x_test.shape[0] != self.y_test.shape[0]:
            raise WorkloadError(
                f"workload {self.name!r}: x_test has {self.x_test.shape[0]} samples but y_test "
                f"has {self.y_test.shape[0]}."
            )
        if self.x_test.shape[0] == 0:
            raise WorkloadError(f"workload {self.name!r}: x_test is empty.")

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input sample."""
        return tuple(self.x_test.shape[1:])

    @property
    def info(self) -> WorkloadInfo:
        return WorkloadInfo(
            name=self.name,
            description=self.description,
            dataset=self.dataset,
            input_shape=self.input_shape,
            num_classes=self.num_classes,
            needs_data_dir=self.needs_data_dir,
        )

    @torch.no_grad()
    def clean_accuracy(self) -> float:
        """Accuracy of the float model on the whole test split (fraction)."""
        logits = self.model(self.x_test)
        return float((logits.argmax(-1) == self.y_test).float().mean())


def stratified_order(labels: Tensor, seed: int = 0) -> Tensor:
    r"""A permutation of `N` sample indices whose every prefix is close to stratified.

    Each class is shuffled (fixed ``seed``), then samples are ordered by their rank within the
    class divided by the class size, so the first ``n`` indices hold about ``n · p_c`` of
    class ``c``.
    """
    gen = torch.Generator().manual_seed(seed)
    keys = torch.empty(labels.shape[0], dtype=torch.float64)
    for c in labels.unique():
        idx = (labels == c).nonzero().squeeze(1)
        perm = idx[torch.randperm(idx.numel(), generator=gen)]
        keys[perm] = (torch.arange(idx.numel(), dtype=torch.float64) + 0.5) / idx.numel()
    return torch.argsort(keys, stable=True)


def cache_dir() -> Path:
    """Model cache directory: ``$XBAR_CACHE_DIR`` or ``~/.cache/xbar-dse``."""
    return Path(os.environ.get("XBAR_CACHE_DIR") or Path.home() / ".cache" / "xbar-dse")


@dataclass(frozen=True, kw_only=True)
class TrainSpec:
    """Hyperparameters of the deterministic training loop (Adam, cross-entropy)."""

    epochs: int
    """Passes over the training split."""
    lr: float
    """Adam learning rate."""
    batch_size: int = 64
    """Minibatch size."""
    weight_decay: float = 0.0
    """Adam L2 weight decay."""
    seed: int = 0
    """Seed of initialization and shuffling."""


def _fingerprint(*tensors: Tensor) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def train_classifier(model: nn.Module, x: Tensor, y: Tensor, spec: TrainSpec) -> None:
    """Train ``model`` in place; torch's global random state is left untouched."""
    gen = torch.Generator().manual_seed(spec.seed + 1)
    opt = torch.optim.Adam(model.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(spec.epochs):
        perm = torch.randperm(x.shape[0], generator=gen)
        for i in range(0, x.shape[0], spec.batch_size):
            idx = perm[i : i + spec.batch_size]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
    model.eval()


def load_or_train(
    name: str,
    build: Callable[[], nn.Module],
    x_train: Tensor,
    y_train: Tensor,
    spec: TrainSpec,
    *,
    directory: Path | str | None = None,
    retrain: bool = False,
) -> tuple[nn.Module, bool, str]:
    """The trained model from the cache, or train it now and cache it.

    Args:
        name: Workload name (file-name prefix).
        build: Returns a fresh, untrained model (called under ``torch.manual_seed(spec.seed)``).
        x_train: Training inputs.
        y_train: Training labels.
        spec: Training hyperparameters.
        directory: Cache directory (default :func:`cache_dir`).
        retrain: Ignore a cached model.

    Returns:
        ``(model, from_cache, key)`` with the model in eval mode.
    """
    with torch.random.fork_rng():
        torch.manual_seed(spec.seed)
        model = build()
    payload = {
        "name": name,
        "arch": repr(model),
        "spec": spec.__dict__,
        "data": _fingerprint(x_train, y_train),
        "torch": torch.__version__,
    }
    key = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]
    folder = Path(directory) if directory is not None else cache_dir()
    path = folder / f"{name}-{key}.pt"
    if path.exists() and not retrain:
        try:
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            model.eval()
            return model, True, key
        except (OSError, RuntimeError, EOFError) as e:
            logger.warning("cached model %s unreadable (%s); retraining", path, e)
    logger.info("training workload %s (cache key %s)", name, key)
    with torch.random.fork_rng():
        torch.manual_seed(spec.seed)
        train_classifier(model, x_train, y_train, spec)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}-", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(model.state_dict(), tmp)
        os.replace(tmp, path)  # atomic: concurrent workers never see a partial file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return model, False, key
