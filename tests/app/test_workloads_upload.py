"""Uploaded workloads over REST: 413 past the per-file limit, a bad model is 422 and stores
nothing, identical content is stored once, another key's upload is 404, admin may delete,
list/get/delete, 409 while an active study names the workload."""

from __future__ import annotations

import io

import numpy as np
import onnx
import pytest
from fastapi.testclient import TestClient
from onnx import TensorProto, helper, numpy_helper
from sqlalchemy import func, select

from app.main import create_app
from app.models import Study, UploadedWorkload, WorkloadBlob, utcnow
from tests.app.conftest import make_settings
from tests.app.test_auth import _bearer, _key

API = "/api/v1"


def tiny_onnx_cnn(seed: int = 0) -> bytes:
    """A 1x8x8 -> Conv(2, 3x3) -> Relu -> Flatten -> Gemm(3 classes) ONNX model [bytes]."""
    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.normal(size=(2, 1, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(np.zeros(2, np.float32), "b")
    fw = numpy_helper.from_array(rng.normal(size=(3, 72)).astype(np.float32), "fw")
    fb = numpy_helper.from_array(np.zeros(3, np.float32), "fb")
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Flatten", ["r"], ["f"]),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1)]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], [w, b, fw, fb])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def tiny_npz(n: int = 12) -> bytes:
    rng = np.random.default_rng(1)
    buf = io.BytesIO()
    np.savez(buf, x_test=rng.normal(size=(n, 1, 8, 8)).astype(np.float32),
             y_test=rng.integers(0, 3, n))
    return buf.getvalue()


def _files(model: bytes, data: bytes) -> dict:
    return {"model": ("m.onnx", model, "application/octet-stream"),
            "data": ("d.npz", data, "application/octet-stream")}


def _counts(db) -> tuple[int, int]:
    with db.session() as s:
        return (s.scalar(select(func.count()).select_from(UploadedWorkload)),
                s.scalar(select(func.count()).select_from(WorkloadBlob)))


@pytest.fixture
def auth_app(migrated_url):
    app = create_app(make_settings(migrated_url, auth="on", run_driver=False,
                                   max_upload_bytes=20_000))
    with TestClient(app) as c:
        yield app, c


def test_upload_list_get_dedup_and_delete(auth_app) -> None:
    app, c = auth_app
    db = app.state.db
    a, b, admin = _key(db, "a"), _key(db, "b"), _key(db, "root", admin=True)
    model, data = tiny_onnx_cnn(), tiny_npz()
    r = c.post(f"{API}/workloads", data={"name": "mine"}, files=_files(model, data),
               headers=_bearer(a))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["model_format"] == "onnx" and body["data_format"] == "npz"
    assert body["model_size_bytes"] == len(model) and body["data_size_bytes"] == len(data)
    # the same bytes under another name and by another key: blobs stored once
    r = c.post(f"{API}/workloads", data={"name": "again"}, files=_files(model, data),
               headers=_bearer(b))
    assert r.status_code == 201, r.text
    assert r.json()["model_sha256"] == body["model_sha256"]
    assert _counts(db) == (2, 2)
    # a name taken by the same key: 409; a built-in name: 409
    assert c.post(f"{API}/workloads", data={"name": "mine"}, files=_files(model, data),
                  headers=_bearer(a)).status_code == 409
    assert c.post(f"{API}/workloads", data={"name": "digits-cnn"}, files=_files(model, data),
                  headers=_bearer(a)).status_code == 409
    # listing: built-ins plus only the caller's uploads
    listed = c.get(f"{API}/workloads", headers=_bearer(a)).json()["data"]
    assert [w["name"] for w in listed if w["source"] == "uploaded"] == ["mine"]
    assert any(w["name"] == "digits-cnn" and w["source"] == "builtin" for w in listed)
    # another key's upload reads as missing
    other = c.get(f"{API}/workloads/mine", headers=_bearer(b))
    missing = c.get(f"{API}/workloads/nothing", headers=_bearer(b))
    assert other.status_code == missing.status_code == 404
    assert c.delete(f"{API}/workloads/mine", headers=_bearer(b)).status_code == 404
    assert c.get(f"{API}/workloads/mine", headers=_bearer(a)).json()["name"] == "mine"
    # owner deletes: the shared blobs stay (still named by "again")
    assert c.delete(f"{API}/workloads/mine", headers=_bearer(a)).status_code == 204
    assert c.get(f"{API}/workloads/mine", headers=_bearer(a)).status_code == 404
    assert _counts(db) == (1, 2)
    # admin deletes b's upload: the last reference, so the blobs go too
    assert c.delete(f"{API}/workloads/again", headers=_bearer(admin)).status_code == 204
    assert _counts(db) == (0, 0)


def test_bad_files_are_422_and_store_nothing(auth_app) -> None:
    app, c = auth_app
    a = _key(app.state.db, "a")
    r = c.post(f"{API}/workloads", data={"name": "bad"},
               files=_files(b"\x08\x07not a model", tiny_npz()), headers=_bearer(a))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["body", "model"]
    r = c.post(f"{API}/workloads", data={"name": "bad"},
               files=_files(tiny_onnx_cnn(), b"no zip here"), headers=_bearer(a))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["body", "data"]
    misfit = io.BytesIO()  # 5x5 images cannot feed the 8x8 model: the build names the data
    np.savez(misfit, x_test=np.zeros((4, 1, 5, 5), np.float32), y_test=np.zeros(4, np.int64))
    r = c.post(f"{API}/workloads", data={"name": "bad"},
               files=_files(tiny_onnx_cnn(), misfit.getvalue()), headers=_bearer(a))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["body", "data"]
    assert c.post(f"{API}/workloads", data={"name": "Bad Name"},
                  files=_files(tiny_onnx_cnn(), tiny_npz()),
                  headers=_bearer(a)).status_code == 422
    assert _counts(app.state.db) == (0, 0)


def test_files_past_the_upload_limit_are_413(auth_app) -> None:
    app, c = auth_app
    a = _key(app.state.db, "a")
    big = tiny_npz(n=200)  # ~51 kB > max_upload_bytes=20 kB, below the route's body limit
    assert 20_000 < len(big) < 2 * 20_000 + 1_000_000
    r = c.post(f"{API}/workloads", data={"name": "big"}, files=_files(tiny_onnx_cnn(), big),
               headers=_bearer(a))
    assert r.status_code == 413, r.text
    assert "data file exceeds 20000 bytes" in r.json()["detail"]
    huge = b"\0" * (2 * 20_000 + 1_000_001)  # past the route's body limit: the middleware
    r = c.post(f"{API}/workloads", data={"name": "huge"}, files=_files(huge, b""),
               headers=_bearer(a))
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")
    assert _counts(app.state.db) == (0, 0)


def test_delete_refused_while_an_active_study_names_it(auth_app) -> None:
    app, c = auth_app
    db = app.state.db
    a = _key(db, "a")
    r = c.post(f"{API}/workloads", data={"name": "used"},
               files=_files(tiny_onnx_cnn(), tiny_npz()), headers=_bearer(a))
    owner = r.json()["owner_key_id"]
    with db.session() as s:
        now = utcnow()
        s.add(Study(name="s", owner_key_id=owner, state="running",
                    definition={"problem": {"name": "crossbar", "workload": "used"}},
                    objectives=[], search_space={}, method="sobol", seed=0, parallelism=1,
                    created_at=now, updated_at=now))
    r = c.delete(f"{API}/workloads/used", headers=_bearer(a))
    assert r.status_code == 409 and "active studies" in r.json()["detail"]
    assert _counts(db) == (1, 2)
