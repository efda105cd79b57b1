r"""Data-set bytes -> test / calibration / training splits.

Formats (``DATA_FORMATS``), sniffed from content unless named:

- ``npz`` (``numpy.savez``; read with ``allow_pickle=False``, so object arrays are refused):
  arrays ``x_test``, ``y_test`` and optionally ``x_calib``, ``y_calib``, ``x_train``,
  ``y_train``. Images are float `N x C x H x W` (used as given) or uint8 `N x H x W x C`
  (scaled to [0, 1] and moved to NCHW); other float arrays (e.g. `N x features`) are used as
  given. Labels are integer class indices `N`.
- ``images``: a zip of ``SPLIT/CLASS/*.png`` (``SPLIT`` in ``test``, ``calib``, ``train``) or
  of ``CLASS/*.png`` (all test); classes are the sorted folder names; images are decoded with
  Pillow to RGB (or L when every image is grayscale) and scaled to [0, 1], NCHW.

When ``x_calib`` is absent, calibration uses the first :data:`CALIBRATION_SIZE` training
samples, else the first test samples (recorded in the workload's metadata).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from simulator.errors import WorkloadError
from simulator.workloads.base import CALIBRATION_SIZE

__all__ = ["DATA_FORMATS", "DataSplits", "load_data", "sniff_data_format"]

DATA_FORMATS = ("npz", "images")
"""Data formats :func:`load_data` reads."""

SPLITS = ("test", "calib", "train")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


@dataclass(frozen=True)
class DataSplits:
    r"""Inputs `N x input_shape` (float32) and int64 labels `N` of each split."""

    x_test: Tensor
    y_test: Tensor
    x_calib: Tensor
    calib_source: str
    """``"calib"``, ``"train"`` or ``"test"``: where the calibration batch came from."""
    x_train: Tensor | None = None
    y_train: Tensor | None = None


def sniff_data_format(data: bytes) -> str:
    """``npz`` or ``images`` (both zips): ``.npy`` members make an ``npz``."""
    if data[:4] != b"PK\x03\x04":
        raise WorkloadError("the data file is neither an .npz archive nor a zip of image "
                            "folders (no zip signature).")
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except zipfile.BadZipFile as e:
        raise WorkloadError(f"the data file is a corrupted zip archive: {e}") from None
    return "npz" if any(n.endswith(".npy") for n in names) else "images"


def _inputs(a: np.ndarray, key: str) -> Tensor:
    if a.dtype == np.uint8:
        x = torch.from_numpy(a.astype(np.float32) / 255.0)
        if x.dim() == 4:
            x = x.permute(0, 3, 1, 2).contiguous()
        return x
    if not np.issubdtype(a.dtype, np.floating):
        raise WorkloadError(f"array {key!r} must be float (NCHW) or uint8 (NHWC) images, got "
                            f"dtype {a.dtype}.")
    x = torch.from_numpy(a.astype(np.float32))
    if a.ndim < 2 or not torch.isfinite(x).all():
        raise WorkloadError(f"array {key!r} must be `N x ...` finite values, got shape "
                            f"{a.shape}.")
    return x


def _labels(a: np.ndarray, key: str, n: int) -> Tensor:
    if not np.issubdtype(a.dtype, np.integer) or a.ndim != 1:
        raise WorkloadError(f"array {key!r} must hold integer class labels of shape (N,), got "
                            f"dtype {a.dtype} shape {a.shape}.")
    if a.shape[0] != n:
        raise WorkloadError(f"array {key!r} has {a.shape[0]} labels for {n} inputs.")
    if n and a.min() < 0:
        raise WorkloadError(f"array {key!r} holds negative labels.")
    return torch.from_numpy(a.astype(np.int64))


def _npz(data: bytes) -> dict[str, Tensor]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as e:  # object arrays need pickle
        raise WorkloadError(f"the .npz holds an array that needs pickle (refused): {e}") from None
    except Exception as e:
        raise WorkloadError(f"the data file is not a valid .npz: {e}") from None
    unknown = sorted(set(arrays) - {f"{c}_{s}" for c in "xy" for s in SPLITS})
    if unknown:
        raise WorkloadError(f"the .npz has unknown arrays {unknown}; expected x_test, y_test "
                            "and optionally x_calib, y_calib, x_train, y_train.")
    out: dict[str, Tensor] = {}
    for split in SPLITS:
        x, y = arrays.get(f"x_{split}"), arrays.get(f"y_{split}")
        if x is None and y is None:
            continue
        if x is None or (y is None and split != "calib"):
            raise WorkloadError(f"the .npz has only one of x_{split} and y_{split}.")
        out[f"x_{split}"] = _inputs(x, f"x_{split}")
        if y is not None:
            out[f"y_{split}"] = _labels(y, f"y_{split}", x.shape[0])
    if "x_test" not in out:
        raise WorkloadError("the .npz lacks x_test and y_test.")
    return out


def _images(data: bytes) -> dict[str, Tensor]:
    try:
        from PIL import Image
    except ImportError:
        raise WorkloadError("image folders need Pillow, which is not installed here; send "
                            "an .npz instead.") from None
    archive = zipfile.ZipFile(io.BytesIO(data))
    files = [n for n in archive.namelist() if n.lower().endswith(IMAGE_SUFFIXES)]
    if not files:
        raise WorkloadError("the zip holds no .png/.jpg images.")
    grouped: dict[str, list[tuple[str, str]]] = {}
    for name in files:
        parts = name.strip("/").split("/")
        split = parts[0] if len(parts) == 3 and parts[0] in SPLITS else "test"
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[0] not in SPLITS):
            raise WorkloadError(f"image {name!r} is not at CLASS/FILE or SPLIT/CLASS/FILE.")
        grouped.setdefault(split, []).append((parts[-2], name))
    classes = sorted({c for items in grouped.values() for c, _ in items})
    index = {c: i for i, c in enumerate(classes)}
    decoded: dict[str, list] = {}
    for split, items in grouped.items():
        decoded[split] = []
        for cls, name in sorted(items, key=lambda t: t[1]):
            try:
                img = Image.open(io.BytesIO(archive.read(name)))
                img.load()
            except Exception as e:
                raise WorkloadError(f"image {name!r} cannot be decoded: {e}") from None
            decoded[split].append((index[cls], img, name))
    gray = all(img.mode in ("L", "1") for items in decoded.values() for _, img, _ in items)
    out: dict[str, Tensor] = {}
    for split, items in decoded.items():
        arrays = [np.asarray(img.convert("L" if gray else "RGB")) for _, img, _ in items]
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            raise WorkloadError(f"images of split {split!r} differ in size: {sorted(shapes)}.")
        stack = np.stack(arrays)
        out[f"x_{split}"] = _inputs(stack[..., None] if gray else stack, f"x_{split}")
        out[f"y_{split}"] = torch.tensor([c for c, _, _ in items], dtype=torch.int64)
    if "x_test" not in out:
        raise WorkloadError("the image zip has no test images.")
    return out


def load_data(data: bytes, data_format: str | None = None) -> DataSplits:
    """Data ``data`` (bytes) -> :class:`DataSplits` (module docstring).

    Raises:
        WorkloadError: Naming the problem (format, array, shape, dtype, image).
    """
    if not data:
        raise WorkloadError("the data file is empty.")
    fmt = data_format or sniff_data_format(data)
    if fmt not in DATA_FORMATS:
        raise WorkloadError(f"unknown data format {fmt!r}; known: {list(DATA_FORMATS)}.")
    arrays = _npz(data) if fmt == "npz" else _images(data)
    for split in SPLITS[1:]:
        x = arrays.get(f"x_{split}")
        if x is not None and x.shape[1:] != arrays["x_test"].shape[1:]:
            raise WorkloadError(f"x_{split} samples have shape {tuple(x.shape[1:])} but x_test "
                                f"samples {tuple(arrays['x_test'].shape[1:])}.")
    if "x_calib" in arrays:
        calib, source = arrays["x_calib"], "calib"
    elif "x_train" in arrays:
        calib, source = arrays["x_train"][:CALIBRATION_SIZE], "train"
    else:
        calib, source = arrays["x_test"][:CALIBRATION_SIZE], "test"
    return DataSplits(x_test=arrays["x_test"], y_test=arrays["y_test"], x_calib=calib,
                      calib_source=source, x_train=arrays.get("x_train"),
                      y_train=arrays.get("y_train"))
