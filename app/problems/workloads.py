"""The workload part of a crossbar study: its name, its options, and the data it needs.

Trust boundary: a request never names a location on the service or a worker. Workload data
come from the operator's ``XBAR_DATA_DIR`` and trained models from ``XBAR_CACHE_DIR``, both read
from the environment of the process that loads the workload; an option that looks like a
location (:func:`path_like`) is refused by name at creation (422) and again by the worker
(:func:`app.execution.evaluators.run_evaluation`), so a hostile stored row cannot point the
workload's reader (CIFAR-10 is unpickled) at a file of its choosing.

A study may also name a *file workload* (:class:`WorkloadFiles`): one of the caller's uploads or
an operator workload (``XBAR_WORKLOADS_FILE``). Built-in names win; the evaluator spec then
holds the two blobs' sha256s and loading options, never a path, and the driver ships the bytes
to the worker (:mod:`app.execution.content`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

from simulator.errors import WorkloadError
from simulator.workloads import DATA_DIR_ENV, check_options, data_missing, list_workloads

if TYPE_CHECKING:
    from torch import nn

__all__ = ["FILES_KEY", "PATH_NAME_SUFFIXES", "WorkloadFiles", "analytic_tier_error",
           "builtin_names", "option_errors", "path_like", "workload_errors"]

FILES_KEY = "workload_files"
"""Key of a crossbar evaluator spec holding a file workload's :meth:`WorkloadFiles.spec`."""

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class WorkloadFiles:
    """A workload built from a model blob and a data blob
    (:func:`simulator.workloads.files.file_workload`), named by their sha256s (hex)."""

    source: Literal["uploaded", "operator"]
    """``uploaded``: blobs in the database; ``operator``: files named by the operator's
    ``XBAR_WORKLOADS_FILE``."""
    model_sha256: str
    data_sha256: str
    model_format: str
    data_format: str
    architecture: str | None = None
    analytic_tier: bool | None = field(default=None, compare=False)
    """Whether the analytic moment tier can evaluate the model (:func:`analytic_tier_error`);
    ``None`` when not known (an upload stored before this was recorded). Checked at study
    creation only, so not part of :meth:`spec`."""

    def spec(self) -> dict[str, Any]:
        """Plain JSON for the evaluator spec: the blobs and how to load them."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.compare}

    @classmethod
    def from_spec(cls, spec: Any) -> WorkloadFiles:
        """Read a stored spec back, checked as untrusted input (a worker reads it).

        Raises:
            ValueError: not an object of the fields above, a source other than the two, or a
                digest that is not 64 lower-case hex digits.
        """
        keys = {f.name for f in fields(cls) if f.compare}
        if not isinstance(spec, dict) or set(spec) != keys:
            raise ValueError(f"evaluator spec: {FILES_KEY} must hold exactly "
                             f"{', '.join(sorted(keys))}")
        if spec["source"] not in ("uploaded", "operator"):
            raise ValueError(f"evaluator spec: unknown workload source {spec['source']!r}")
        for key in ("model_sha256", "data_sha256"):
            if not isinstance(spec[key], str) or not _SHA256.match(spec[key]):
                raise ValueError(f"evaluator spec: {key} must be a sha256 hex digest")
        for key in ("model_format", "data_format", "architecture"):
            if spec[key] is not None and not isinstance(spec[key], str):
                raise ValueError(f"evaluator spec: {key} must be a string")
        return cls(**spec)


def analytic_tier_error(model: nn.Module) -> str | None:
    """Why the analytic moment tier cannot evaluate ``model`` (a layer it does not handle, or
    operators run between the layers, e.g. a converted ONNX graph with a residual add), or
    ``None`` when it can (:func:`simulator.estimators.moment_maps.supported_leaves`)."""
    from simulator.estimators.moment_maps import supported_leaves

    try:
        supported_leaves(model)
    except ValueError as e:
        return str(e)
    return None


def builtin_names() -> set[str]:
    """Names of the workloads the registry knows (bundled, registered, entry points): they
    win over an upload or operator workload of the same name."""
    return {w["name"] for w in list_workloads()}

PATH_NAME_SUFFIXES: tuple[str, ...] = ("_dir", "_path", "_file", "_root", "_url")
"""Option names ending so are locations, whatever their value."""
_PATH_NAMES = frozenset({"dir", "path", "file", "filename", "root", "url", "uri", "folder"})
"""Option names that are locations."""
_PATH_VALUE = re.compile(r"[/\\]|^~|^\.\.?$|^[A-Za-z][A-Za-z0-9+.-]*:")
"""A string value holding a path separator, starting with ``~``, being ``.``/``..``, or
starting with a URL scheme or drive letter (``file:``, ``C:``)."""


def path_like(name: str, value: Any) -> bool:
    """Whether option ``name = value`` names a location (and so is refused from a request)."""
    lowered = name.lower()
    if lowered in _PATH_NAMES or lowered.endswith(PATH_NAME_SUFFIXES):
        return True
    return isinstance(value, str) and _PATH_VALUE.search(value) is not None


def option_errors(workload: str, options: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(option, reason)`` for every option of ``options`` that is a location or that
    ``workload`` does not declare (unknown name, wrong type, out of bounds).

    Raises:
        WorkloadError: on an unknown workload name.
    """
    errors: list[tuple[str, str]] = []
    rest: dict[str, Any] = {}
    for key, value in options.items():
        if path_like(key, value):
            errors.append((key, f"option {key!r} names a location; workload data and caches "
                                f"come from the operator's {DATA_DIR_ENV} and XBAR_CACHE_DIR, "
                                "never from a request"))
        else:
            rest[key] = value
    return errors + check_options(workload, rest)


def workload_errors(workload: str, options: Mapping[str, Any],
                    files: Mapping[str, WorkloadFiles] | None = None
                    ) -> list[tuple[list[str], str]]:
    """Every problem with a study's workload, as ``(loc under problem, reason)``: an unknown
    name; each bad option (:func:`option_errors`); data the operator has not installed here
    (:func:`simulator.workloads.data_missing`: the service and its workers share
    ``XBAR_DATA_DIR``, so a study that would fail every trial is refused at creation).

    ``files`` are the file workloads the caller may name (its uploads, the operator's); a
    built-in name wins over them, and a file workload takes no options."""
    if files and workload in files and workload not in builtin_names():
        return [(["workload_options", key], f"file workload {workload!r} takes no options")
                for key in options]
    try:
        bad = option_errors(workload, options)
        missing = data_missing(workload)
    except WorkloadError as e:
        msg = str(e).rstrip(".")
        if files:
            msg += f"; your file workloads: {', '.join(sorted(files))}"
        return [(["workload"], msg)]
    out = [(["workload_options", key], reason) for key, reason in bad]
    if missing is not None:
        out.append((["workload"], missing))
    return out
