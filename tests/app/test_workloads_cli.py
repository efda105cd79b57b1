"""``xbar workload upload|list|delete`` against a live server: exit 0 on success, 2 for a bad
file or a 4xx answer (bad model, unknown name), 3 when the server cannot be reached."""

from __future__ import annotations

import httpx
from typer.testing import CliRunner

from app.cli.main import app
from tests.app.live import serve, sqlite_url
from tests.app.test_workloads_upload import tiny_npz, tiny_onnx_cnn

runner = CliRunner()


def _cli(*args: str):
    return runner.invoke(app, list(args))


def test_upload_list_delete_and_exit_codes(tmp_path) -> None:
    model, data = tmp_path / "m.onnx", tmp_path / "d.npz"
    model.write_bytes(tiny_onnx_cnn())
    data.write_bytes(tiny_npz())
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07not a model")
    with serve(sqlite_url(tmp_path), run_driver=False) as url:
        r = _cli("workload", "upload", "mine", "--model", str(model), "--data", str(data),
                 "--url", url)
        assert r.exit_code == 0, r.output
        assert "uploaded workload mine" in r.output
        stored = httpx.get(f"{url}/api/v1/workloads/mine").json()
        assert stored["model_size_bytes"] == model.stat().st_size
        r = _cli("workload", "upload", "other", "--model", str(bad), "--data", str(data),
                 "--url", url)
        assert r.exit_code == 2 and "HTTP 422" in r.output
        r = _cli("workload", "upload", "x", "--model", str(tmp_path / "none.onnx"),
                 "--data", str(data), "--url", url)
        assert r.exit_code == 2 and "cannot read the model file" in r.output
        r = _cli("workload", "list", "--url", url, "--json")
        assert r.exit_code == 0
        assert "mine" in r.output and "digits-cnn" in r.output
        assert _cli("workload", "delete", "mine", "-y", "--url", url).exit_code == 0
        r = _cli("workload", "delete", "mine", "-y", "--url", url)
        assert r.exit_code == 2 and "HTTP 404" in r.output
    r = _cli("workload", "list", "--url", "http://127.0.0.1:9")
    assert r.exit_code == 3
