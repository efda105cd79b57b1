r"""Model bytes -> float ``nn.Module``: format sniffing and the per-format loaders.

Formats (``MODEL_FORMATS``), sniffed from content unless named:

- ``onnx``: a protobuf ``ModelProto`` (no magic; the fallback), converted by
  :func:`~simulator.workloads.files.onnx_model.onnx_to_torch`. Nothing is unpickled.
- ``safetensors``: an 8-byte little-endian header length, then a JSON header; loaded with
  ``safetensors.torch.load`` (no pickle) into an architecture of
  :mod:`simulator.workloads.architectures` named by ``architecture``; widths, input channels
  and class count are read from the tensor shapes.
- ``torchscript`` / ``pt2``: zip archives (``PK\x03\x04``) with ``code/`` or
  ``serialized_exported_program`` members. Both formats hide their layers behind compiled code
  (no ``nn.Linear``/``nn.Conv2d`` submodule to map), and loading them unpickles archive
  members (``torch.export.load``: Python ``pickle``), so they are refused with the reason and
  the way out (export to ONNX, or save a safetensors state dict of a bundled architecture).
  See ``docs/decisions.md``.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable

from torch import nn

from simulator.errors import WorkloadError
from simulator.workloads import architectures
from simulator.workloads.files.onnx_model import onnx_to_torch

__all__ = ["ARCHITECTURES", "MODEL_FORMATS", "load_model", "sniff_model_format"]

MODEL_FORMATS = ("onnx", "safetensors", "torchscript", "pt2")
"""Model formats :func:`load_model` recognizes."""

ARCHITECTURES: dict[str, tuple[Callable[..., nn.Module], str, str, int]] = {
    "vgg8": (architectures.vgg8, "0.weight", "18.weight", 128),
    "resnet20": (architectures.resnet20, "conv.weight", "fc.weight", 16),
}
"""Architecture name -> (builder, first conv weight key, classifier weight key, published
width of the first conv)."""


def sniff_model_format(data: bytes) -> str:
    """The format of model ``data`` from its first bytes / zip members (module docstring)."""
    if data[:4] == b"PK\x03\x04":
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except zipfile.BadZipFile as e:
            raise WorkloadError(f"the model is a corrupted zip archive: {e}") from None
        if any("serialized_exported_program" in n or n.endswith("archive_format")
               for n in names):
            return "pt2"
        if any("/code/" in n or n.endswith("constants.pkl") for n in names):
            return "torchscript"
        raise WorkloadError("the model is a zip archive but neither a TorchScript nor a "
                            "torch.export (.pt2) program.")
    if len(data) > 9:
        (header_len,) = struct.unpack("<Q", data[:8])
        if 2 <= header_len <= len(data) - 8 and data[8:9] == b"{":
            return "safetensors"
    return "onnx"


def _from_safetensors(data: bytes, architecture: str | None) -> nn.Module:
    from safetensors.torch import load

    if architecture is None:
        raise WorkloadError(f"a safetensors state dict needs an architecture "
                            f"(one of {sorted(ARCHITECTURES)}).")
    if architecture not in ARCHITECTURES:
        raise WorkloadError(f"unknown architecture {architecture!r}; known: "
                            f"{sorted(ARCHITECTURES)}.")
    try:
        state = load(data)
    except Exception as e:  # safetensors raises SafetensorError and others
        raise WorkloadError(f"the model is not a valid safetensors file: {e}") from None
    build, first, last, width = ARCHITECTURES[architecture]
    if first not in state or last not in state:
        raise WorkloadError(f"the state dict is not a {architecture}: it lacks {first!r} or "
                            f"{last!r}.")
    channels = state[first].shape[0]
    if channels < 1 or width % channels:
        raise WorkloadError(f"{first!r} has {channels} output channels; {architecture} needs "
                            f"{width} divided by an integer.")
    model = build(num_classes=state[last].shape[0], divisor=width // channels,
                  in_channels=state[first].shape[1])
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise WorkloadError(f"the state dict does not fit {architecture}: {e}") from None
    return model.eval()


def load_model(data: bytes, model_format: str | None = None,
               architecture: str | None = None) -> nn.Module:
    """Model ``data`` (bytes) -> float model in eval mode.

    Args:
        data: File content (a local file's or an uploaded blob's: the same bytes).
        model_format: One of ``MODEL_FORMATS``; ``None`` sniffs it.
        architecture: Architecture name, for ``safetensors`` state dicts.

    Raises:
        WorkloadError: Naming the problem (format, bad bytes, unsupported node or layer).
    """
    if not data:
        raise WorkloadError("the model file is empty.")
    fmt = model_format or sniff_model_format(data)
    if fmt not in MODEL_FORMATS:
        raise WorkloadError(f"unknown model format {fmt!r}; known: {list(MODEL_FORMATS)}.")
    if fmt == "onnx":
        return onnx_to_torch(data)
    if fmt == "safetensors":
        return _from_safetensors(data, architecture)
    raise WorkloadError(
        f"{fmt} programs are not accepted: their layers are compiled code (no nn.Linear/"
        "nn.Conv2d to map onto crossbars) and loading them unpickles the archive. Export the "
        "model to ONNX (torch.onnx.export), or save a safetensors state dict of a bundled "
        f"architecture ({', '.join(sorted(ARCHITECTURES))}).")

