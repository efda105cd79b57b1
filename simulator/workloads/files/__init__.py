r"""Bring your own model and data: a :class:`~simulator.workloads.base.Workload` from bytes.

Public API (the same call serves a local file in ``xbar eval`` and an uploaded blob on a worker;
it takes content, never a path, and never unpickles it)::

    file_workload(model: bytes, data: bytes, *, model_format: str | None = None,
                  architecture: str | None = None, data_format: str | None = None,
                  name: str | None = None) -> Workload

- ``model``: ONNX, or a ``safetensors`` state dict plus ``architecture`` (``vgg8``,
  ``resnet20``); see :mod:`.models`. TorchScript/``.pt2`` are recognized and refused with the
  reason. ``model_format`` overrides sniffing (``MODEL_FORMATS``).
- ``data``: ``.npz`` or a zip of image folders; see :mod:`.data` (``DATA_FORMATS``).
- ``name``: the workload's name (default ``file-<hash prefix>``).

Raises :class:`~simulator.errors.WorkloadError` (a ``ValueError``) naming the problem: bad or
corrupted bytes, an unsupported ONNX node (name and op type), a layer that cannot be mapped
(name and type), input shapes that do not fit the model, labels outside the model's classes.
Results are cached in-process by the SHA-256 of the content (``metadata["content_sha256"]``).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import torch

from simulator.errors import MappingError, WorkloadError
from simulator.mapping import crossbar_layers
from simulator.workloads.base import Workload
from simulator.workloads.files.data import DATA_FORMATS, DataSplits, load_data, sniff_data_format
from simulator.workloads.files.models import (
    ARCHITECTURES,
    MODEL_FORMATS,
    load_model,
    sniff_model_format,
)

__all__ = ["ARCHITECTURES", "DATA_FORMATS", "MODEL_FORMATS", "DataSplits", "content_hash",
           "file_workload", "load_data", "load_model", "sniff_data_format",
           "sniff_model_format"]


def content_hash(model: bytes, data: bytes, *options: str | None) -> str:
    """SHA-256 (hex) of the model bytes, the data bytes and the options that change loading."""
    h = hashlib.sha256()
    for part in (model, data, *(str(o).encode() for o in options)):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def file_workload(model: bytes, data: bytes, *, model_format: str | None = None,
                  architecture: str | None = None, data_format: str | None = None,
                  name: str | None = None) -> Workload:
    """Workload from model and data bytes (module docstring)."""
    if not isinstance(model, bytes | bytearray) or not isinstance(data, bytes | bytearray):
        raise WorkloadError("file_workload takes the model's and the data's bytes.")
    key = content_hash(bytes(model), bytes(data), model_format, architecture, data_format)
    name = name or f"file-{key[:12]}"
    cached = _CACHE.get((key, name))
    if cached is not None:
        _CACHE.move_to_end((key, name))
        return cached
    workload = _build(key, bytes(model), bytes(data), model_format, architecture, data_format,
                      name)
    _CACHE[(key, name)] = workload
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return workload


CACHE_SIZE = 8
"""Workloads kept in memory, keyed by content hash and name (the bytes themselves are not)."""

_CACHE: OrderedDict[tuple[str, str], Workload] = OrderedDict()


def _build(key: str, model: bytes, data: bytes, model_format: str | None,
           architecture: str | None, data_format: str | None, name: str) -> Workload:
    fmt = model_format or sniff_model_format(model)
    net = load_model(model, fmt, architecture)
    try:
        layers = crossbar_layers(net)
    except MappingError as e:
        raise WorkloadError(f"the model cannot be mapped: {e}") from None
    splits = load_data(data, data_format)
    try:
        with torch.no_grad():
            logits = net(splits.x_test[:2])
    except Exception as e:  # shape errors surface as RuntimeError from torch
        raise WorkloadError(f"test inputs of shape {tuple(splits.x_test.shape[1:])} do not fit "
                            f"the model: {e}") from None
    if logits.dim() != 2:
        raise WorkloadError(f"the model must output `N x classes` logits, got shape "
                            f"{tuple(logits.shape)}.")
    num_classes = int(logits.shape[1])
    for split, y in (("test", splits.y_test), ("train", splits.y_train)):
        if y is not None and y.numel() and int(y.max()) >= num_classes:
            raise WorkloadError(f"y_{split} holds label {int(y.max())} but the model has "
                                f"{num_classes} classes.")
    workload = Workload(
        name=name, description=f"user model ({fmt}) on user data", dataset=f"file-{key[:12]}",
        model=net, x_test=splits.x_test, y_test=splits.y_test, x_calib=splits.x_calib,
        x_train=splits.x_train, y_train=splits.y_train, num_classes=num_classes,
        metadata={"content_sha256": key, "model_format": fmt, "architecture": architecture,
                  "calibration_split": splits.calib_source,
                  "crossbar_layers": [n for n, _ in layers]})
    workload.metadata["clean_accuracy"] = workload.clean_accuracy()
    return workload
