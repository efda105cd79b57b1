"""Operator workloads (``XBAR_WORKLOADS_FILE``): read and built at start-up (a missing file or
a bad entry stops it with a message naming the entry), listed by ``GET /workloads`` without
their paths, usable by every key, their names reserved; the driver reads their bytes from the
files and refuses a file changed since the study was created; a worker refuses bytes that do
not match the spec's digests."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.core.config import Settings
from app.execution.content import ContentUnavailable, read_content
from app.execution.evaluators import file_workload_of
from app.main import create_app
from app.models import Study
from app.problems.workloads import WorkloadFiles
from tests.app.conftest import make_settings
from tests.app.test_auth import _bearer, _key
from tests.app.test_workloads_upload import _files, tiny_npz, tiny_onnx_cnn

API = "/api/v1"

STUDY = {"name": "op", "problem": {"name": "crossbar", "workload": "lab-cnn",
                                   "fixed": {"rows": 64, "cols": 64}},
         "optimizer": {"method": "sobol"}, "budget": {"max_trials": 2}}


def _config(tmp_path, entry: str = 'model = "m.onnx"\ndata = "d.npz"\n', suffix=".toml"):
    (tmp_path / "m.onnx").write_bytes(tiny_onnx_cnn())
    (tmp_path / "d.npz").write_bytes(tiny_npz())
    f = tmp_path / f"workloads{suffix}"
    f.write_text(f'[workloads.lab-cnn]\ndescription = "the lab CNN"\n{entry}')
    return f


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no storage of its own
def test_operator_workload_listed_and_usable_by_every_key(migrated_url, tmp_path) -> None:
    f = _config(tmp_path)
    app = create_app(make_settings(migrated_url, auth="on", run_driver=False,
                                   workloads_file=str(f)))
    with TestClient(app) as c:
        db = app.state.db
        a, b = _key(db, "a"), _key(db, "b")
        listed = c.get(f"{API}/workloads", headers=_bearer(a)).json()["data"]
        [op] = [w for w in listed if w["source"] == "operator"]
        assert op["name"] == "lab-cnn" and op["description"] == "the lab CNN"
        assert op["model_format"] == "onnx" and op["data_format"] == "npz"
        assert op["model_size_bytes"] == len(tiny_onnx_cnn())
        assert str(tmp_path) not in json.dumps(listed) and "m.onnx" not in json.dumps(listed)
        for key in (a, b):
            assert c.post(f"{API}/studies:validate", json=STUDY,
                          headers=_bearer(key)).status_code == 204
        r = c.post(f"{API}/studies", json=STUDY, headers=_bearer(b))
        assert r.status_code == 201, r.text
        with db.session() as s:
            files = s.get(Study, r.json()["id"]).definition["evaluator"]["workload_files"]
        assert files["source"] == "operator" and files["model_sha256"] == op["model_sha256"]
        r = c.post(f"{API}/workloads", data={"name": "lab-cnn"},
                   files=_files(tiny_onnx_cnn(), tiny_npz()), headers=_bearer(a))
        assert r.status_code == 409 and "operator workload" in r.json()["detail"]
        # the driver side: bytes from the operator's files, checked against the study's spec
        spec = WorkloadFiles(**files)
        settings = app.state.settings
        model, data = read_content(None, settings, "lab-cnn", spec)
        assert (model, data) == (tiny_onnx_cnn(), tiny_npz())
        (tmp_path / "d.npz").write_bytes(tiny_npz(n=6))
        with pytest.raises(ContentUnavailable, match="data file changed since the study"):
            read_content(None, settings, "lab-cnn", spec)


@pytest.mark.parametrize(("entry", "suffix", "message"), [
    ('model = "m.onnx"\ndata = "none.npz"\n', ".toml", "cannot read its data file"),
    ('model = "m.onnx"\n', ".toml", "needs `model` and `data`"),
    ('model = "m.onnx"\ndata = "d.npz"\npath = "x"\n', ".toml", "unknown keys path"),
    ('model = "d.npz"\ndata = "d.npz"\n', ".toml", "workload 'lab-cnn'"),
    ('model = "m.onnx"\ndata = \n', ".toml", "not valid TOML"),
    ('model = "m.onnx"\ndata = "d.npz"\n', ".json", "not valid JSON"),
])
def test_bad_workloads_file_fails_at_start_up(tmp_path, entry, suffix, message) -> None:
    f = _config(tmp_path, entry, suffix)
    with pytest.raises(ValidationError, match=message):
        Settings(database_url="sqlite://", workloads_file=str(f))


def test_missing_workloads_file_and_builtin_names_fail(tmp_path) -> None:
    with pytest.raises(ValidationError, match="cannot read"):
        Settings(database_url="sqlite://", workloads_file=str(tmp_path / "none.toml"))
    f = tmp_path / "w.json"
    (tmp_path / "m.onnx").write_bytes(tiny_onnx_cnn())
    (tmp_path / "d.npz").write_bytes(tiny_npz())
    f.write_text(json.dumps({"workloads": {"digits-cnn": {"model": "m.onnx", "data": "d.npz"}}}))
    with pytest.raises(ValidationError, match="'digits-cnn' is a built-in name"):
        Settings(database_url="sqlite://", workloads_file=str(f))
    f.write_text(json.dumps({"workloads": {"ok": {"model": "m.onnx", "data": "d.npz"}}}))
    assert list(Settings(database_url="sqlite://", workloads_file=str(f))
                .operator_workloads()) == ["ok"]


def test_worker_refuses_bytes_that_do_not_match_the_spec() -> None:
    import hashlib

    model, data = tiny_onnx_cnn(), tiny_npz()
    spec = WorkloadFiles("uploaded", hashlib.sha256(model).hexdigest(),
                         hashlib.sha256(data).hexdigest(), "onnx", "npz")
    w = file_workload_of("tiny", spec, model, data)
    assert w.name == "tiny" and w.num_classes == 3
    assert file_workload_of("tiny", spec, model, data) is w  # built once per worker
    with pytest.raises(ValueError, match="received data bytes do not match"):
        file_workload_of("tiny", spec, model, tiny_npz(n=6))
    with pytest.raises(ValueError, match="carries no model bytes"):
        file_workload_of("tiny", spec, None, data)
    with pytest.raises(ValueError, match="model_sha256 must be a sha256"):
        WorkloadFiles.from_spec({**spec.spec(), "model_sha256": "../etc/passwd"})
