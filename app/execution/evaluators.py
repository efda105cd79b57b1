"""Evaluate one trial from its study's evaluator spec; runs on Dask workers.

Plain data in, plain data out: the spec (written by :mod:`app.problems`) names the problem
``kind`` and everything needed to rebuild it, so a worker needs only the project installed.

The spec comes from a database row, so it is checked again here as untrusted input: workload
options are held to the workload's declared options and no option may name a location
(:func:`app.problems.workloads.option_errors`); data and caches are the worker's own
``XBAR_DATA_DIR`` and ``XBAR_CACHE_DIR``.

A file workload (an upload or an operator workload; the spec's ``workload_files``) arrives as
bytes with the task (:mod:`app.execution.content`: scattered once per study by the driver), so
the worker needs no database credentials and reads no path. The bytes are checked against the
spec's sha256s on every call, and the built :class:`~simulator.Workload` is kept in a bounded
LRU (:data:`FILE_CACHE_SIZE`) by both digests and the loading options.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from functools import lru_cache
from typing import Any

from app.problems.benchmarks import BENCHMARK
from app.problems.crossbar import CROSSBAR, OBJECTIVE_NAMES
from app.problems.workloads import FILES_KEY, WorkloadFiles, option_errors
from optimizer.problems import BenchmarkProblem, get_problem
from simulator import CrossbarConfig, Workload, evaluate, get_workload
from simulator.workloads.files import file_workload

__all__ = ["FILE_CACHE_SIZE", "file_workload_of", "run_evaluation"]

FILE_CACHE_SIZE = 4
"""File workloads a worker keeps built in memory (model, data tensors; least recently used
dropped first)."""

_FILE_CACHE: OrderedDict[tuple[str, WorkloadFiles], Workload] = OrderedDict()
_FILE_LOCK = threading.Lock()


@lru_cache(maxsize=8)
def _workload(name: str, options_key: str) -> Workload:
    """The workload ``name`` built with the options JSON-encoded in ``options_key`` (sorted
    keys), kept for the next trials this worker evaluates (loading trains or reads a model)."""
    return get_workload(name, **json.loads(options_key))


@lru_cache(maxsize=32)
def _problem(name: str, options_key: str) -> BenchmarkProblem:
    """The benchmark problem ``name`` built with the options JSON-encoded in ``options_key``
    (sorted keys), kept for the next trials this worker evaluates: building one costs about
    as much as evaluating it (a BoTorch test function, a search space), and a problem is
    immutable (a frozen dataclass of pure functions), so worker threads share it."""
    return get_problem(name, **json.loads(options_key))


def file_workload_of(name: str, files: WorkloadFiles, model: Any, data: Any) -> Workload:
    """The file workload ``name`` from the received ``model`` and ``data`` bytes, built once
    per worker for the same digests and options (LRU of :data:`FILE_CACHE_SIZE`).

    Raises:
        ValueError: the bytes are missing or do not hash to the spec's sha256s (never built),
            or the workload does not load (:class:`~simulator.errors.WorkloadError`).
    """
    for what, content, digest in (("model", model, files.model_sha256),
                                  ("data", data, files.data_sha256)):
        if not isinstance(content, bytes | bytearray):
            raise ValueError(f"workload {name!r}: the task carries no {what} bytes")
        if hashlib.sha256(content).hexdigest() != digest:
            raise ValueError(f"workload {name!r}: the received {what} bytes do not match "
                             f"their sha256 {digest[:12]}...")
    key = (name, files)
    with _FILE_LOCK:
        if (hit := _FILE_CACHE.get(key)) is not None:
            _FILE_CACHE.move_to_end(key)
            return hit
    workload = file_workload(bytes(model), bytes(data), model_format=files.model_format,
                             architecture=files.architecture, data_format=files.data_format,
                             name=name)
    with _FILE_LOCK:
        _FILE_CACHE[key] = workload
        while len(_FILE_CACHE) > FILE_CACHE_SIZE:
            _FILE_CACHE.popitem(last=False)
    return workload


def run_evaluation(
    evaluator: dict[str, Any], params: dict[str, Any], fidelity: float, seed: int,
    model: bytes | None = None, data: bytes | None = None,
) -> dict[str, Any]:
    """Evaluate one trial. Returns ``values`` (objective name -> value), ``cost_s`` and
    ``details``. ``model`` and ``data`` are the bytes of a file workload's blobs (the spec's
    ``workload_files``), unused otherwise.

    For benchmark functions ``cost_s`` is the problem's synthetic cost (the measured wall time
    of a closed-form function is meaningless) or, for a tabulated problem, the wall time
    recorded with the table; the measured time is in ``details``. For the crossbar problem
    ``cost_s`` is the simulator's measured wall time [s] and the values are the
    :data:`~app.problems.crossbar.OBJECTIVE_NAMES` fields of its evaluation; its
    ``details["variances"]`` holds the Monte-Carlo noise variance of the accuracy
    (``accuracy_stderr`` squared), which the optimizer models as known noise.

    Raises:
        ValueError: for an unknown evaluator ``kind``, or a spec its problem rejects (for a
            crossbar spec: before the workload is loaded, so a location in its options is
            never opened).
    """
    t0 = time.perf_counter()
    if evaluator["kind"] == BENCHMARK:
        options = evaluator.get("options") or {}
        if not isinstance(evaluator["name"], str) or not isinstance(options, dict):
            raise ValueError("evaluator spec: problem must be a name and its options an object")
        bp = _problem(evaluator["name"], json.dumps(options, sort_keys=True))
        values, cost = bp.evaluate(params, fidelity)
        details: dict[str, Any] = {"wall_s": time.perf_counter() - t0,
                                   "cost_kind": bp.cost_kind}
        realized = bp.realized_fidelity(fidelity)
        if realized != fidelity:  # a tabulated problem: values and cost of the nearest level
            details["evaluated_fidelity"] = realized
        return {
            "values": {k: float(v) for k, v in values.items()},
            "cost_s": float(cost),
            "details": details,
        }
    if evaluator["kind"] == CROSSBAR:
        config = CrossbarConfig.from_params({**evaluator.get("fixed", {}), **params})
        name, options = evaluator["workload"], evaluator.get("workload_options") or {}
        if not isinstance(name, str) or not isinstance(options, dict):
            raise ValueError("evaluator spec: workload must be a name and its options an object")
        if FILES_KEY in evaluator:
            if options:
                raise ValueError("evaluator spec refused: a file workload takes no options")
            workload = file_workload_of(name, WorkloadFiles.from_spec(evaluator[FILES_KEY]),
                                        model, data)
        else:
            bad = option_errors(name, options)
            if bad:
                raise ValueError("evaluator spec refused: " + "; ".join(msg for _, msg in bad))
            workload = _workload(name, json.dumps(options, sort_keys=True))
        ev = evaluate(config, workload, fidelity, seed)
        return {
            "values": {name: float(getattr(ev, name)) for name in OBJECTIVE_NAMES},
            "cost_s": float(ev.cost_s),
            "details": {"accuracy_std": float(ev.accuracy_std), **ev.details,
                        "variances": {"accuracy": float(ev.accuracy_stderr) ** 2}},
        }
    raise ValueError(f"unknown evaluator kind {evaluator.get('kind')!r}")
