r"""The :class:`Workload` type, training of the bundled models and their on-disk cache.

A workload is a trained float model plus its held-out test data (and a calibration batch drawn
from its training split). Bundled models are trained once, deterministically, and cached in
``XBAR_CACHE_DIR`` (default ``~/.cache/xbar-dse``) under a key hashing the architecture, the
training hyperparameters, the training data and the torch version, so a change to any of them
retrains.

Locations are operator configuration, never workload options: data a workload reads lives under
``XBAR_DATA_DIR`` (:func:`data_dir`) and models under ``XBAR_CACHE_DIR`` (:func:`cache_dir`),
both read from the environment of the process that loads the workload. A workload declares its
options (:class:`OptionSpec`: type, bounds, default), so a caller's options can be checked
without loading it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from simulator.errors import WorkloadError

__all__ = [
    "CALIBRATION_SIZE",
    "DATA_DIR_ENV",
    "OptionSpec",
    "TrainSpec",
    "Workload",
    "WorkloadInfo",
    "cache_dir",
    "data_dir",
    "load_or_train",
    "stratified_order",
    "trained_workload",
    "workload_info",
]

logger = logging.getLogger(__name__)

CALIBRATION_SIZE = 256
"""Training samples used to calibrate input quantizers and ADC ranges."""

DATA_DIR_ENV = "XBAR_DATA_DIR"
"""Environment variable naming the operator's data root (workload data sets live under it)."""

_PY_TYPES: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "bool": (bool,),
                                          "str": (str,)}


@dataclass(frozen=True, kw_only=True)
class OptionSpec:
    """One option a workload factory takes: a JSON scalar of ``type`` within its bounds.

    No option names a location: data and caches come from the environment (module docstring).
    """

    name: str
    """Keyword of the factory."""
    type: Literal["int", "float", "bool", "str"]
    """JSON type of the value (``bool`` is never an ``int`` here)."""
    default: Any = None
    """Value used when the option is omitted."""
    low: float | None = None
    """Smallest allowed value (numbers), or ``None``."""
    high: float | None = None
    """Largest allowed value (numbers), or ``None``."""
    choices: tuple[Any, ...] | None = None
    """Allowed values, or ``None`` for any value of the type within the bounds."""
    nullable: bool = False
    """Whether ``null`` (the factory's "no limit") is allowed."""
    description: str = ""
    """One line for humans, with the unit."""

    def check(self, value: Any) -> str | None:
        """``None`` when ``value`` is allowed, else the reason (naming the option)."""
        if value is None:
            return None if self.nullable else f"{self.name} must not be null"
        ok = isinstance(value, _PY_TYPES[self.type]) and (
            self.type == "bool" or not isinstance(value, bool))
        if not ok or (self.type == "float" and not math.isfinite(value)):
            return f"{self.name} must be a{'n' if self.type == 'int' else ''} {self.type}"
        if self.choices is not None and value not in self.choices:
            return f"{self.name} must be one of {list(self.choices)}, got {value!r}"
        if self.type in ("int", "float") and (
                (self.low is not None and value < self.low)
                or (self.high is not None and value > self.high)):
            return f"{self.name} must be in [{self.low}, {self.high}], got {value!r}"
        if self.type == "str" and len(value) > 200:
            return f"{self.name} must be at most 200 characters"
        return None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "type": self.type, "default": self.default}
        for key in ("low", "high", "nullable", "description"):
            d[key] = getattr(self, key)
        if self.choices is not None:
            d["choices"] = list(self.choices)
        return d


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
    """Whether the operator must install the data under ``XBAR_DATA_DIR``."""
    data_files: tuple[str, ...] = ()
    """Files, relative to ``XBAR_DATA_DIR``, whose presence means the data are installed."""
    options: tuple[OptionSpec, ...] | None = None
    """The options the factory takes; ``None``: undeclared (checked against its signature)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "dataset": self.dataset,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "needs_data_dir": self.needs_data_dir,
            "options": None if self.options is None else [o.to_dict() for o in self.options],
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


def data_dir() -> Path | None:
    """The operator's data root ``$XBAR_DATA_DIR`` (``None`` when unset)."""
    raw = os.environ.get(DATA_DIR_ENV)
    return Path(raw).expanduser() if raw else None


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


def trained_workload(
    name: str,
    description: str,
    dataset: str,
    build: Callable[[], nn.Module],
    spec: TrainSpec,
    split: tuple[Tensor, Tensor, Tensor, Tensor],
    *,
    retrain: bool = False,
    cache_name: str | None = None,
    needs_data_dir: bool = False,
    metadata: dict[str, Any] | None = None,
) -> Workload:
    """A 10-class workload whose model is trained on ``split`` (or loaded from the cache).

    Args:
        name: Workload name.
        description: One line for listings.
        dataset: Name of the data set.
        build: Returns a fresh, untrained model.
        spec: Training hyperparameters.
        split: ``(x_train, y_train, x_test, y_test)``; the first :data:`CALIBRATION_SIZE`
            training inputs are the calibration set.
        retrain: Ignore a cached model.
        cache_name: Cache file-name prefix (default ``name``).
        needs_data_dir: The workload reads files from the data directory.
        metadata: Entries added after ``cache_key`` and ``train``; ``clean_accuracy`` is
            measured and added last.
    """
    x_train, y_train, x_test, y_test = split
    model, from_cache, key = load_or_train(cache_name or name, build, x_train, y_train, spec,
                                           retrain=retrain)
    workload = Workload(
        name=name,
        description=description,
        dataset=dataset,
        model=model.requires_grad_(False),
        x_test=x_test,
        y_test=y_test,
        x_calib=x_train[:CALIBRATION_SIZE],
        x_train=x_train,
        y_train=y_train,
        num_classes=10,
        needs_data_dir=needs_data_dir,
        from_cache=from_cache,
        metadata={"cache_key": key, "train": spec.__dict__, **(metadata or {})},
    )
    workload.metadata["clean_accuracy"] = workload.clean_accuracy()
    return workload
