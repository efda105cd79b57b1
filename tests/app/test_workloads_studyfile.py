"""Study files naming local ``model_file``/``data_file``: ``xbar study validate`` builds them
locally (a bad model is exit 2 at its line), ``xbar study create`` uploads their content and
creates the study naming the upload (no path reaches the server), reuses an upload holding the
same bytes and refuses one of that name holding other bytes."""

from __future__ import annotations

import json

import httpx
from typer.testing import CliRunner

from app.cli.main import app
from tests.app.live import serve, sqlite_url
from tests.app.test_workloads_upload import tiny_npz, tiny_onnx_cnn

runner = CliRunner()

STUDY_YAML = """name: own-files
problem:
  name: crossbar
  workload: {workload}
  model_file: {model}
  data_file: d.npz
  fixed: {{rows: 64, cols: 64}}
optimizer: {{method: sobol}}
budget: {{max_trials: 2}}
"""


def _cli(*args: str):
    return runner.invoke(app, list(args))


def _write(tmp_path, workload: str = "tiny", model: str = "m.onnx"):
    (tmp_path / "m.onnx").write_bytes(tiny_onnx_cnn())
    (tmp_path / "d.npz").write_bytes(tiny_npz())
    f = tmp_path / "study.yaml"
    f.write_text(STUDY_YAML.format(workload=workload, model=model))
    return f


def test_validate_builds_local_files(tmp_path) -> None:
    f = _write(tmp_path)
    r = _cli("study", "validate", str(f))
    assert r.exit_code == 0, r.output
    assert "valid (4 objectives" in r.output
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x07not a model")
    f = _write(tmp_path, model="bad.onnx")
    r = _cli("study", "validate", str(f))
    assert r.exit_code == 2
    assert f"{f}:5: problem.model_file: Invalid model" in r.output
    f = _write(tmp_path, model="missing.onnx")
    r = _cli("study", "validate", str(f))
    assert r.exit_code == 2 and "cannot read" in r.output


def test_create_uploads_then_names_the_upload(tmp_path) -> None:
    f = _write(tmp_path)
    with serve(sqlite_url(tmp_path), run_driver=False) as url:
        r = _cli("study", "create", str(f), "--url", url)
        assert r.exit_code == 0, r.output
        up = httpx.get(f"{url}/api/v1/workloads/tiny").json()
        assert up["model_size_bytes"] == len(tiny_onnx_cnn())
        studies = httpx.get(f"{url}/api/v1/studies").json()["data"]
        assert [s["problem"]["workload"] for s in studies] == ["tiny"]
        text = json.dumps(studies)
        assert "model_file" not in text and "m.onnx" not in text and str(tmp_path) not in text
        # the same bytes again: the upload is reused
        r = _cli("study", "create", str(f), "--url", url)
        assert r.exit_code == 0, r.output
        listed = httpx.get(f"{url}/api/v1/workloads").json()["data"]
        assert [w["name"] for w in listed if w["source"] == "uploaded"] == ["tiny"]
        # other bytes under the same name: refused before anything is sent
        (tmp_path / "d.npz").write_bytes(tiny_npz(n=8))
        r = _cli("study", "create", str(f), "--url", url)
        assert r.exit_code == 2 and "with other content" in r.output
        assert len(httpx.get(f"{url}/api/v1/studies").json()["data"]) == 2
