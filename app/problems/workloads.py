"""The workload part of a crossbar study: its name, its options, and the data it needs.

Trust boundary: a request never names a location on the service or a worker. Workload data
come from the operator's ``XBAR_DATA_DIR`` and trained models from ``XBAR_CACHE_DIR``, both read
from the environment of the process that loads the workload; an option that looks like a
location (:func:`path_like`) is refused by name at creation (422) and again by the worker
(:func:`app.execution.evaluators.run_evaluation`), so a hostile stored row cannot point the
workload's reader (CIFAR-10 is unpickled) at a file of its choosing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from simulator.errors import WorkloadError
from simulator.workloads import DATA_DIR_ENV, check_options, data_missing

__all__ = ["PATH_NAME_SUFFIXES", "option_errors", "path_like", "workload_errors"]

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


def workload_errors(workload: str, options: Mapping[str, Any]) -> list[tuple[list[str], str]]:
    """Every problem with a study's workload, as ``(loc under problem, reason)``: an unknown
    name; each bad option (:func:`option_errors`); data the operator has not installed here
    (:func:`simulator.workloads.data_missing`: the service and its workers share
    ``XBAR_DATA_DIR``, so a study that would fail every trial is refused at creation)."""
    try:
        bad = option_errors(workload, options)
        missing = data_missing(workload)
    except WorkloadError as e:
        return [(["workload"], str(e).rstrip("."))]
    out = [(["workload_options", key], reason) for key, reason in bad]
    if missing is not None:
        out.append((["workload"], missing))
    return out
