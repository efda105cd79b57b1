"""``xbar worker --gpus N``: the Dask resources a GPU worker declares, and clear refusals."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from app.cli.main import app
from app.execution.worker import GPU_RESOURCE, worker_resources


def test_cpu_worker_declares_no_resources() -> None:
    assert worker_resources(0) == {}


def test_gpu_worker_declares_gpu_resource() -> None:
    assert worker_resources(2, available=4) == {GPU_RESOURCE: 2.0}
    assert GPU_RESOURCE == "GPU"


@pytest.mark.parametrize(("gpus", "available", "match"),
                         [(-1, 1, ">= 0"), (3, 2, "sees 2 CUDA")])
def test_bad_gpu_counts_are_refused(gpus: int, available: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        worker_resources(gpus, available=available)


def test_cli_refuses_more_gpus_than_visible() -> None:
    import torch

    visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
    result = CliRunner().invoke(app, ["worker", "tcp://127.0.0.1:9", "--gpus",
                                      str(visible + 1)])
    assert result.exit_code == 2
    assert f"sees {visible} CUDA" in result.output
