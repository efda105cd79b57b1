r"""Operator-registered workloads: ``XBAR_WORKLOADS_FILE``, a TOML or JSON file the operator
writes, naming model and data files on the server (operator configuration, never a request)::

    [workloads.lenet-mnist]
    model = "/srv/xbar/lenet.onnx"      # relative paths: from the file's folder
    data = "/srv/xbar/mnist-test.npz"
    architecture = "vgg8"               # optional: a safetensors state dict's architecture
    model_format = "onnx"               # optional: else sniffed
    description = "LeNet-5 on MNIST"    # optional

JSON: the same mapping, ``{"workloads": {"lenet-mnist": {"model": ..., "data": ...}}}``.

Every entry is read and built once (:func:`simulator.workloads.files.file_workload`) when the
settings are loaded, so a missing file, a bad model or data that do not fit it stop the service
at start-up with a message naming the entry. Listed by ``GET /workloads`` with
``source: operator`` (digests and sizes, never the paths) and usable by every key.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["OperatorWorkload", "load_workloads_file"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
"""Same rule as an uploaded workload's name (``app.schemas.workload.NAME_PATTERN``)."""
_KEYS = frozenset({"model", "data", "architecture", "model_format", "description"})


@dataclass(frozen=True)
class OperatorWorkload:
    """One entry of ``XBAR_WORKLOADS_FILE``: where its files are on the server and what they
    hold (sha256 hex digests, sizes [bytes], formats)."""

    name: str
    model_path: Path
    data_path: Path
    model_sha256: str
    data_sha256: str
    model_size_bytes: int
    data_size_bytes: int
    model_format: str
    data_format: str
    architecture: str | None = None
    description: str = ""
    analytic_tier: bool = True
    """Whether the analytic moment tier can evaluate the model
    (:func:`app.problems.workloads.analytic_tier_error`)."""

    def public(self) -> dict[str, Any]:
        """What ``GET /workloads`` shows: everything but the paths."""
        return {"name": self.name, "description": self.description,
                "model_sha256": self.model_sha256, "data_sha256": self.data_sha256,
                "model_size_bytes": self.model_size_bytes,
                "data_size_bytes": self.data_size_bytes, "model_format": self.model_format,
                "data_format": self.data_format, "architecture": self.architecture,
                "analytic_tier": self.analytic_tier}


def _parse(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"XBAR_WORKLOADS_FILE: cannot read {path}: "
                         f"{getattr(e, 'strerror', None) or e}") from None
    try:
        doc = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"XBAR_WORKLOADS_FILE: {path} is not valid "
                         f"{'JSON' if path.suffix == '.json' else 'TOML'}: {e}") from None
    entries = doc.get("workloads") if isinstance(doc, dict) else None
    if not isinstance(entries, dict):
        raise ValueError(f"XBAR_WORKLOADS_FILE: {path} must hold a `workloads` table of "
                         "name -> {model, data}")
    return entries


def _entry(folder: Path, name: str, entry: Any) -> OperatorWorkload:
    from app.problems.workloads import analytic_tier_error
    from simulator.errors import WorkloadError
    from simulator.workloads.files import file_workload, sniff_data_format, sniff_model_format

    where = f"XBAR_WORKLOADS_FILE: workload {name!r}"
    if not _NAME.match(name):
        raise ValueError(f"{where}: names are lower-case letters, digits, '.', '_', '-' "
                         "(at most 100 characters)")
    if not isinstance(entry, dict) or not {"model", "data"} <= set(entry):
        raise ValueError(f"{where}: needs `model` and `data` file paths")
    if unknown := sorted(set(entry) - _KEYS):
        raise ValueError(f"{where}: unknown keys {', '.join(unknown)}; allowed: "
                         f"{', '.join(sorted(_KEYS))}")
    if not all(isinstance(v, str) for v in entry.values()):
        raise ValueError(f"{where}: every value must be a string")
    paths, content = {}, {}
    for key in ("model", "data"):
        p = Path(entry[key]).expanduser()
        paths[key] = p if p.is_absolute() else folder / p
        try:
            content[key] = paths[key].read_bytes()
        except OSError as e:
            raise ValueError(f"{where}: cannot read its {key} file {paths[key]}: "
                             f"{e.strerror}") from None
    arch = entry.get("architecture")
    try:
        fmt = entry.get("model_format") or sniff_model_format(content["model"])
        data_fmt = sniff_data_format(content["data"])
        workload = file_workload(content["model"], content["data"], model_format=fmt,
                                 architecture=arch, data_format=data_fmt, name=name)
    except WorkloadError as e:
        raise ValueError(f"{where}: {e}") from None
    return OperatorWorkload(
        name=name, model_path=paths["model"], data_path=paths["data"],
        model_sha256=hashlib.sha256(content["model"]).hexdigest(),
        data_sha256=hashlib.sha256(content["data"]).hexdigest(),
        model_size_bytes=len(content["model"]), data_size_bytes=len(content["data"]),
        model_format=fmt, data_format=data_fmt, architecture=arch,
        description=entry.get("description", ""),
        analytic_tier=analytic_tier_error(workload.model) is None)


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> dict[str, OperatorWorkload]:
    file = Path(path)
    from simulator.workloads import list_workloads

    builtin = {w["name"] for w in list_workloads()}
    out = {}
    for name, entry in _parse(file).items():
        if name in builtin:
            raise ValueError(f"XBAR_WORKLOADS_FILE: workload {name!r} is a built-in name")
        out[name] = _entry(file.parent, name, entry)
    return out


def load_workloads_file(path: str | Path) -> dict[str, OperatorWorkload]:
    """The workloads of an ``XBAR_WORKLOADS_FILE``, by name, each read and built once (cached
    by path and modification time).

    Raises:
        ValueError: the file is missing, not valid TOML/JSON, or an entry is bad (a name, a
            missing key, an unreadable file, a model or data that do not load), naming it.
    """
    p = Path(path).expanduser().resolve()
    try:
        mtime = p.stat().st_mtime_ns
    except OSError as e:
        raise ValueError(f"XBAR_WORKLOADS_FILE: cannot read {p}: {e.strerror}") from None
    return _load(str(p), mtime)
