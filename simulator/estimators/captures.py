r"""Float activations of a calibration batch at every crossbar layer, captured once per (model,
batch) and cached in-process: the configuration-independent part of the noise referral
(:func:`simulator.estimators.referral.layer_noise`).

Referring a configuration's noise to the layers starts with one float pass over the
calibration batch (256 images: 156 G multiply-accumulates on NeuroSim's VGG8, about 7 CPU
seconds on one AVX2 core) whose result does not depend on the configuration. The analytic
tier evaluates many configurations of one workload in a worker process, so the pass is kept:
:func:`captured_layers` returns every layer's inputs, its deterministic-error rows and the
float outputs there from the cache when the model's parameters and buffers and the batch hash
to the same key, and also memoizes what later steps derive from them alone (the unrolled
deterministic-error rows, the input-code histograms of :func:`code_counts`).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from simulator.mapping import crossbar_layers
from simulator.patches import random_rows

__all__ = [
    "CAPTURE_CACHE_ELEMENTS",
    "LayerCapture",
    "captured_layers",
    "clear_capture_cache",
    "code_counts",
]

CAPTURE_CACHE_ELEMENTS = 1 << 27
"""Largest total size (tensor elements) of the cached captures: 512 MiB of float32, one
NeuroSim VGG8 capture on 256 images (~80 M elements) and small workloads beside it."""

_CHUNK = 1 << 22
"""Input elements quantized at once when counting codes (bounds the temporaries)."""


@dataclass
class LayerCapture:
    """One crossbar layer's float activations on the calibration batch."""

    x: Tensor
    """The layer's float inputs, `N x ...`."""
    rows: Tensor | None
    """The deterministic-error row indices, a fixed random subset of samples x positions (flat
    ``sample·positions + position``; ``None``: every row)."""
    y_rows: Tensor
    """The float outputs at ``rows``, `M x out_features`."""
    derived: dict[tuple, Tensor] = field(default_factory=dict)
    """Tensors computed from the above alone, memoized by key (see :func:`code_counts`)."""

    def numel(self) -> int:
        """Stored elements (for the cache budget)."""
        extra = sum(t.numel() for t in self.derived.values())
        return self.x.numel() + self.y_rows.numel() + extra


_CACHE: OrderedDict[str, dict[str, LayerCapture]] = OrderedDict()
_LOCK = threading.Lock()


def _key(model: nn.Module, x: Tensor, vectors: int) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{vectors}{model!r}".encode())
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        h.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
        h.update(t.detach().contiguous().cpu().view(torch.uint8).numpy().tobytes())
    h.update(f"{tuple(x.shape)}{x.dtype}".encode())
    h.update(x.detach().contiguous().cpu().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _output_rows(module: nn.Module, out: Tensor, k: int) -> tuple[Tensor | None, Tensor]:
    """``k`` row indices of a layer (a fixed random subset of samples x positions; ``None``:
    all) and its `M x out_features` float outputs there (a copy)."""
    if isinstance(module, nn.Conv2d):
        per = out.shape[-2] * out.shape[-1]
        rows = random_rows(out.shape[0] * per, k)
        if rows is None:
            return None, out.flatten(2).transpose(1, 2).reshape(-1, out.shape[1]).clone()
        return rows, out.flatten(2)[rows // per, :, rows % per]  # M x C (a copy)
    flat = out.reshape(-1, out.shape[-1])
    rows = random_rows(flat.shape[0], k)
    return rows, (flat if rows is None else flat[rows]).clone()


def _capture(model: nn.Module, x: Tensor, vectors: int) -> dict[str, LayerCapture]:
    seen: dict[str, LayerCapture] = {}

    def record(name: str, module: nn.Module, inp: tuple[Tensor, ...], out: Tensor) -> None:
        seen[name] = LayerCapture(inp[0].detach(), *_output_rows(module, out.detach(), vectors))

    handles = [
        module.register_forward_hook(lambda mod, inp, out, name=name: record(name, mod, inp, out))
        for name, module in crossbar_layers(model)
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return seen


def captured_layers(model: nn.Module, x: Tensor, vectors: int) -> dict[str, LayerCapture]:
    """Every crossbar layer's :class:`LayerCapture` of ``model`` (eval semantics) on ``x``,
    keyed by module name, with ``vectors`` deterministic-error rows per layer: from the cache
    when the model's architecture, parameters, buffers, ``x`` and ``vectors`` hash to a cached
    key (a hit returns the same objects: never modify them), else captured now by one float
    pass and cached (least recently used entries are dropped beyond
    :data:`CAPTURE_CACHE_ELEMENTS`)."""
    key = _key(model, x, vectors)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    layers = _capture(model, x, vectors)
    with _LOCK:
        _CACHE[key] = layers
        _trim()
    return layers


def _trim() -> None:
    total = sum(c.numel() for entry in _CACHE.values() for c in entry.values())
    while total > CAPTURE_CACHE_ELEMENTS and len(_CACHE) > 1:
        _, old = _CACHE.popitem(last=False)
        total -= sum(c.numel() for c in old.values())


def clear_capture_cache() -> None:
    """Forget every cached capture (benchmarks time the first use with this)."""
    with _LOCK:
        _CACHE.clear()


def code_counts(x: Tensor, input_bits: int, capture: LayerCapture | None = None) -> Tensor:
    r"""Histogram of the input codes ``round(|x| / (peak / qmax))``, ``qmax = 2**input_bits -
    1``, ``peak = max |x|``: a `qmax + 1`-dim float64 Tensor of counts (exact integer counts
    of the codes, computed in ``x``'s dtype), quantized like
    :meth:`simulator.analog.AnalogLayer._quantize`. With ``capture`` (whose ``x`` is ``x``)
    the result is memoized in it."""
    if capture is not None and ("codes", input_bits) in capture.derived:
        return capture.derived[("codes", input_bits)]
    qmax = 2**input_bits - 1
    peak = float(x.abs().max()) if x.numel() else 0.0
    counts = torch.zeros(qmax + 1, dtype=torch.float64)
    flat = x.reshape(-1)
    for i in range(0, flat.numel() if peak > 0 else 0, _CHUNK):
        q = flat[i : i + _CHUNK].abs().div_(peak / qmax).round_().clamp_(0, qmax)
        counts += torch.bincount(q.to(torch.int32), minlength=qmax + 1).double()  # 2x histc
    if capture is not None:
        with _LOCK:
            capture.derived[("codes", input_bits)] = counts
    return counts
