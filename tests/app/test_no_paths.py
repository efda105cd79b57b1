"""A REST caller cannot make the service or a worker open a path it chose.

The trap: a folder laid out like CIFAR-10 whose pickles create a marker file when unpickled.
Neither a study definition naming it (refused at creation) nor a hostile stored evaluator spec
naming it (refused by the worker before the workload loads) ever opens it.
"""

from __future__ import annotations

import builtins
import pathlib
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.execution import evaluators
from app.execution.evaluators import run_evaluation
from simulator.workloads import cifar10 as cifar_module

API = "/api/v1"


class _Trap:
    """Unpickles to ``Path(marker).touch()``: proof that someone unpickled a caller's file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def _lay_trap(root: Path, marker: Path) -> Path:
    """A CIFAR-10-shaped folder (root and ``cifar-10-batches-py``) of malicious pickles."""
    payload = pickle.dumps(_Trap(marker))
    for folder in (root, root / "cifar-10-batches-py"):
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("test_batch", *(f"data_batch_{i}" for i in range(1, 6))):
            (folder / name).write_bytes(payload)
    return root


@pytest.fixture
def trap(tmp_path: Path) -> tuple[Path, Path]:
    """(folder of malicious pickles, marker path that must never appear)."""
    marker = tmp_path / "PWNED"
    return _lay_trap(tmp_path / "evil", marker), marker


def test_the_trap_is_real(tmp_path: Path) -> None:
    """Control: unpickling one of the trap's files does create its marker."""
    marker = tmp_path / "control-marker"
    root = _lay_trap(tmp_path / "control", marker)
    with (root / "test_batch").open("rb") as f:
        pickle.load(f)
    assert marker.exists()


def _count(client) -> int:
    return len(client.get(f"{API}/studies").json()["data"])


@pytest.mark.parametrize("options", [
    {"data_dir": "TRAP"},
    {"cache_dir": "TRAP"},
    {"epochs": 2, "data_dir": "TRAP"},
    {"mode": "TRAP"},
    {"batches_path": "TRAP"},
], ids=["data_dir", "cache_dir", "with-valid-option", "path-valued", "named-_path"])
def test_api_refuses_a_path_option(idle_client, trap, monkeypatch, options) -> None:
    """A study whose workload options name the trap is a 422 naming each such option;
    nothing is stored and the trap is never unpickled (on both backends)."""
    root, marker = trap
    monkeypatch.delenv("XBAR_DATA_DIR", raising=False)
    options = {k: str(root) if v == "TRAP" else v for k, v in options.items()}
    body = {"name": "evil", "problem": {"name": "crossbar", "workload": "cifar10",
                                        "workload_options": options},
            "optimizer": {"method": "sobol"}, "budget": {"max_trials": 1}}
    r = idle_client.post(f"{API}/studies", json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    locs = [e["loc"] for e in r.json()["errors"]]
    for key, value in options.items():
        if value == str(root):
            assert ["body", "problem", "workload_options", key] in locs, locs
    assert ["body", "problem", "workload"] in locs  # and no data installed: refused too
    assert _count(idle_client) == 0
    assert not marker.exists()


def test_api_refuses_cifar10_without_operator_data(idle_client, monkeypatch, tmp_path) -> None:
    """cifar10 is offered only where the operator installed the data under XBAR_DATA_DIR;
    the 422 names the variable, never a server path."""
    monkeypatch.setenv("XBAR_DATA_DIR", str(tmp_path / "nothing-here"))
    body = {"name": "c", "problem": {"name": "crossbar", "workload": "cifar10"},
            "optimizer": {"method": "sobol"}, "budget": {"max_trials": 1}}
    r = idle_client.post(f"{API}/studies", json=body)
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["loc"] == ["body", "problem", "workload"]
    assert "XBAR_DATA_DIR" in error["msg"] and str(tmp_path) not in r.text
    assert _count(idle_client) == 0


class _Spy:
    """Records every path opened through ``open``/``Path.open`` and every ``pickle.load``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opened: list[str] = []
        self.unpickled = 0
        real_open, real_path_open, real_load = builtins.open, pathlib.Path.open, pickle.load

        def spy_open(file: Any, *args: Any, **kwargs: Any) -> Any:
            self.opened.append(str(file))
            return real_open(file, *args, **kwargs)

        def spy_path_open(path: pathlib.Path, *args: Any, **kwargs: Any) -> Any:
            self.opened.append(str(path))
            return real_path_open(path, *args, **kwargs)

        def spy_load(*args: Any, **kwargs: Any) -> Any:
            self.unpickled += 1
            return real_load(*args, **kwargs)

        monkeypatch.setattr(builtins, "open", spy_open)
        monkeypatch.setattr(pathlib.Path, "open", spy_path_open)
        monkeypatch.setattr(pickle, "load", spy_load)

    def touched(self, root: Path) -> list[str]:
        return [p for p in self.opened if p.startswith(str(root))]


def test_spy_sees_the_cifar_reader(tmp_path: Path, monkeypatch) -> None:
    """Control: the spy records the CIFAR-10 reader's open and unpickle of a benign batch."""
    batch = tmp_path / "test_batch"
    batch.write_bytes(pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [3]}))
    spy = _Spy(monkeypatch)
    x, y = cifar_module._read_batch(batch)
    assert spy.touched(tmp_path) == [str(batch)] and spy.unpickled == 1
    assert tuple(x.shape) == (1, 3, 32, 32) and y.tolist() == [3]


@pytest.mark.parametrize("options", [
    {"data_dir": "TRAP"},
    {"cache_dir": "TRAP"},
    {"data_dir": "TRAP", "epochs": 1, "test_limit": 2},
    {"mode": "TRAP"},
], ids=["data_dir", "cache_dir", "with-valid-options", "path-valued"])
def test_worker_refuses_a_hostile_evaluator_spec(trap, monkeypatch, options) -> None:
    """run_evaluation with a stored spec naming the trap (as a tampered row would) raises
    before the workload loads: nothing under the trap is opened or unpickled."""
    root, marker = trap
    monkeypatch.delenv("XBAR_DATA_DIR", raising=False)
    evaluators._workload.cache_clear()
    spec = {"kind": "crossbar", "workload": "cifar10", "fixed": {},
            "workload_options": {k: str(root) if v == "TRAP" else v for k, v in options.items()}}
    spy = _Spy(monkeypatch)
    with pytest.raises(ValueError, match="names a location") as info:
        run_evaluation(spec, {"adc_bits": 5}, 0.0, 0)
    for key, value in spec["workload_options"].items():
        if value == str(root):
            assert repr(key) in str(info.value)
    assert spy.touched(root) == [] and spy.unpickled == 0
    assert not marker.exists()


def test_worker_refuses_malformed_workload_fields(monkeypatch) -> None:
    """A spec whose options are not an object, or whose workload is unknown, is refused."""
    spy = _Spy(monkeypatch)
    for spec in ({"kind": "crossbar", "workload": "cifar10", "workload_options": ["x"]},
                 {"kind": "crossbar", "workload": "../../evil", "workload_options": {}},
                 {"kind": "crossbar", "workload": 3, "workload_options": {}}):
        with pytest.raises(ValueError):
            run_evaluation(spec, {}, 0.0, 0)
    assert spy.unpickled == 0
