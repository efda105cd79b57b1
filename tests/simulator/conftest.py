"""Fixtures of the simulator tests: an isolated model cache and the bundled digits workloads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from simulator import Workload, get_workload


@pytest.fixture(scope="session", autouse=True)
def one_thread() -> Iterator[None]:
    """Run the simulator tests on one intra-op thread (the Monte-Carlo kernels are large and
    memory-bound; extra threads only contend on a shared machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh ``XBAR_CACHE_DIR`` for the session, so tests train the bundled models once."""
    path = tmp_path_factory.mktemp("xbar-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XBAR_CACHE_DIR", str(path))
        yield path


@pytest.fixture(scope="session")
def digits_mlp(model_cache: Path) -> Workload:
    return get_workload("digits-mlp")


@pytest.fixture(scope="session")
def digits_cnn(model_cache: Path) -> Workload:
    return get_workload("digits-cnn")
