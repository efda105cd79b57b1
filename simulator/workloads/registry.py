r"""Workload registry: the bundled workloads plus the ``xbar.workloads`` entry-point group.

A third-party package registers a workload by declaring, in its ``pyproject.toml``::

    [project.entry-points."xbar.workloads"]
    my-net = "my_package.workloads:my_net"

where ``my_net(**options) -> simulator.Workload``. Decorating it with
:func:`simulator.workloads.workload_info` lets ``list_workloads`` describe it without loading
it, and its ``options`` (:class:`~simulator.workloads.base.OptionSpec`) let
:func:`check_options` validate a caller's options with their types and bounds (an undeclared
factory is checked against its signature only). :func:`register_workload` does the same at run
time (notebooks, tests). :func:`data_missing` says, without loading anything, whether the data
a workload needs are installed under ``XBAR_DATA_DIR``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from simulator.errors import WorkloadError
from simulator.workloads.base import DATA_DIR_ENV, Workload, WorkloadInfo, data_dir
from simulator.workloads.cifar10 import cifar10
from simulator.workloads.digits import digits_cnn, digits_mlp
from simulator.workloads.digits32 import resnet20_digits, vgg8_digits

__all__ = [
    "ENTRY_POINT_GROUP",
    "check_options",
    "data_missing",
    "get_workload",
    "list_workloads",
    "register_workload",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "xbar.workloads"
"""Entry-point group scanned for workload factories."""

_BUILTIN: dict[str, Callable[..., Workload]] = {
    "digits-mlp": digits_mlp,
    "digits-cnn": digits_cnn,
    "cifar10": cifar10,
    "vgg8": vgg8_digits,
    "resnet20": resnet20_digits,
}
_REGISTERED: dict[str, Callable[..., Workload]] = {}


def register_workload(name: str, factory: Callable[..., Workload]) -> None:
    """Register ``factory(**options) -> Workload`` under ``name`` for this process.

    Raises:
        WorkloadError: If ``name`` is empty or already taken by a bundled workload.
    """
    if not name or not isinstance(name, str):
        raise WorkloadError(f"workload name must be a non-empty string, got {name!r}.")
    if name in _BUILTIN:
        raise WorkloadError(f"workload name {name!r} is taken by a bundled workload.")
    _REGISTERED[name] = factory


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _factories() -> dict[str, Callable[..., Workload] | EntryPoint]:
    """Name -> factory; bundled workloads win over same-named entry points."""
    found: dict[str, Callable[..., Workload] | EntryPoint] = {}
    for name, ep in _entry_points().items():
        found[name] = ep
    found.update(_REGISTERED)
    found.update(_BUILTIN)
    return found


def _resolve(name: str, entry: Callable[..., Workload] | EntryPoint) -> Callable[..., Workload]:
    if isinstance(entry, EntryPoint):
        try:
            return entry.load()
        except Exception as e:  # a broken third-party plugin must not take the registry down
            raise WorkloadError(
                f"workload {name!r}: cannot load entry point {entry.value!r}: {e}"
            ) from e
    return entry


def _factory(name: str) -> Callable[..., Workload]:
    """The factory registered as ``name``.

    Raises:
        WorkloadError: on an unknown name (the message lists the known ones).
    """
    factories = _factories()
    if name not in factories:
        raise WorkloadError(
            f"unknown workload {name!r}; available: {', '.join(sorted(factories))}."
        )
    return _resolve(name, factories[name])


def check_options(name: str, options: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(option, reason)`` for every option of ``options`` that workload ``name`` refuses:
    names it does not take, values of the wrong type or out of the declared bounds.

    Raises:
        WorkloadError: on an unknown workload name.
    """
    factory = _factory(name)
    info = getattr(factory, "workload_info", None)
    declared = info.options if isinstance(info, WorkloadInfo) else None
    if declared is not None:
        specs = {o.name: o for o in declared}
        errors = []
        for key, value in options.items():
            spec = specs.get(key)
            if spec is None:
                errors.append((key, f"workload {name!r} has no option {key!r}; options: "
                                    f"{', '.join(specs) or 'none'}"))
            elif (reason := spec.check(value)) is not None:
                errors.append((key, reason))
        return errors
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return []
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return []
    return [(key, f"workload {name!r} has no option {key!r}; options: "
                  f"{', '.join(params) or 'none'}") for key in options if key not in params]


def data_missing(name: str) -> str | None:
    """Why workload ``name`` cannot load its data here, or ``None`` when it needs none or they
    are installed under ``$XBAR_DATA_DIR``. The reason names the variable and the files
    relative to it, never the configured path.

    Raises:
        WorkloadError: on an unknown workload name.
    """
    info = getattr(_factory(name), "workload_info", None)
    if not isinstance(info, WorkloadInfo) or not (info.needs_data_dir or info.data_files):
        return None
    root = data_dir()
    where = ", ".join(info.data_files) or "its data"
    if root is None:
        return (f"workload {name!r} needs data the operator installs: set {DATA_DIR_ENV} (on "
                f"the service and every worker) to a folder holding {where}")
    missing = [f for f in info.data_files if not (root / f).is_file()]
    if missing:
        return (f"the data of workload {name!r} are not installed under {DATA_DIR_ENV} "
                f"(missing {', '.join(missing)})")
    return None


def get_workload(name: str, **options: Any) -> Workload:
    """Load (and, the first time, train) a workload.

    Args:
        name: A name from :func:`list_workloads`.
        **options: Passed to the factory (e.g. ``epochs`` for ``cifar10``), checked first by
            :func:`check_options`.

    Raises:
        WorkloadError: (a ``ValueError``) on an unknown name (the message lists the known
            ones), an option the factory does not take or a bad value (named), or missing data.
    """
    factory = _factory(name)
    errors = check_options(name, options)
    if errors:
        raise WorkloadError("; ".join(reason for _, reason in errors) + ".")
    workload = factory(**options)
    if not isinstance(workload, Workload):
        raise WorkloadError(
            f"workload {name!r}: factory returned {type(workload).__name__}, not a Workload."
        )
    return workload


def _describe(name: str, entry: Callable[..., Workload] | EntryPoint) -> dict[str, Any]:
    try:
        factory = _resolve(name, entry)
    except WorkloadError as e:
        logger.warning("%s", e)
        factory = None
    info = getattr(factory, "workload_info", None)
    if isinstance(info, WorkloadInfo):
        return {**info.to_dict(), "name": name}
    doc = inspect.getdoc(factory) if factory is not None else None
    return {
        "name": name,
        "description": doc.splitlines()[0] if doc else "",
        "dataset": None,
        "input_shape": None,
        "num_classes": None,
        "needs_data_dir": False,
        "options": None,
    }


def list_workloads() -> list[dict[str, Any]]:
    """Every known workload, sorted by name, without loading any: dicts with ``name``,
    ``description``, ``dataset``, ``input_shape``, ``num_classes``, ``needs_data_dir`` and
    ``options`` (the declared options as dicts, or ``None``)."""
    return [_describe(name, entry) for name, entry in sorted(_factories().items())]
