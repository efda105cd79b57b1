"""A file workload the analytic moment tier cannot evaluate (an ONNX graph with a residual
add) is recorded so at upload; a study on it defaults to ``analytic_below = 0`` and a request
for the analytic tier is a 422 at creation naming the field, instead of failing trials later.
A chain model keeps the tier and the crossbar default."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from fastapi.testclient import TestClient
from onnx import TensorProto, helper, numpy_helper
from sqlalchemy import func, select

from app.main import create_app
from app.models import Study
from app.problems.crossbar import CROSSBAR_DEFAULTS
from tests.app.conftest import make_settings
from tests.app.test_workloads_upload import _files, tiny_npz, tiny_onnx_cnn

API = "/api/v1"


def residual_onnx_cnn(seed: int = 0) -> bytes:
    """1x8x8 -> Conv(2) -> Relu -> r; r + Conv(2)(r) -> Flatten -> Gemm(3): an ONNX graph whose
    ``Add`` takes two earlier outputs, so it is not a chain of layers [bytes]."""
    rng = np.random.default_rng(seed)
    init = [numpy_helper.from_array(rng.normal(size=s).astype(np.float32), n) for n, s in (
        ("w1", (2, 1, 3, 3)), ("w2", (2, 2, 3, 3)), ("fw", (3, 128)), ("fb", (3,)))]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], kernel_shape=[3, 3], pads=[1] * 4),
             helper.make_node("Relu", ["c1"], ["r"]),
             helper.make_node("Conv", ["r", "w2"], ["c2"], kernel_shape=[3, 3], pads=[1] * 4),
             helper.make_node("Add", ["r", "c2"], ["s"]),
             helper.make_node("Flatten", ["s"], ["f"]),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1)]
    graph = helper.make_graph(
        nodes, "residual", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


@pytest.fixture
def client(migrated_url) -> TestClient:
    app = create_app(make_settings(migrated_url, run_driver=False))
    with TestClient(app) as c:
        yield c


def _study(workload: str, **fixed) -> dict:
    return {"name": f"on-{workload}",
            "problem": {"name": "crossbar", "workload": workload,
                        "search_space": [{"name": "adc_bits", "type": "int", "low": 3,
                                          "high": 6}],
                        "fixed": {"rows": 64, "cols": 64, **fixed}},
            "optimizer": {"method": "sobol"}, "budget": {"max_trials": 2}}


def _stored_fixed(client: TestClient, sid: int) -> dict:
    db = client.app.state.db
    with db.session() as s:
        return s.get(Study, sid).definition["evaluator"]["fixed"]


def _n_studies(client: TestClient) -> int:
    with client.app.state.db.session() as s:
        return s.scalar(select(func.count()).select_from(Study))


def test_upload_records_whether_the_analytic_tier_applies(client: TestClient) -> None:
    """The upload response and the catalog say ``analytic_tier``: false for the residual
    graph, true for the chain."""
    for name, model, tier in (("res", residual_onnx_cnn(), False),
                              ("chain", tiny_onnx_cnn(), True)):
        r = client.post(f"{API}/workloads", data={"name": name},
                        files=_files(model, tiny_npz()))
        assert r.status_code == 201, r.text
        assert r.json()["analytic_tier"] is tier
    listed = {w["name"]: w for w in client.get(f"{API}/workloads").json()["data"]}
    assert listed["res"]["analytic_tier"] is False
    assert listed["chain"]["analytic_tier"] is True


def test_study_on_a_non_chain_model_defaults_to_monte_carlo(client: TestClient) -> None:
    """No ``analytic_below`` in the request: stored as 0 for the residual graph (every
    fidelity runs Monte-Carlo), the crossbar default for the chain."""
    for name, model in (("res", residual_onnx_cnn()), ("chain", tiny_onnx_cnn())):
        assert client.post(f"{API}/workloads", data={"name": name},
                           files=_files(model, tiny_npz())).status_code == 201
    r = client.post(f"{API}/studies", json=_study("res"))
    assert r.status_code == 201, r.text
    assert _stored_fixed(client, r.json()["id"])["analytic_below"] == 0.0
    r = client.post(f"{API}/studies", json=_study("chain"))
    assert r.status_code == 201, r.text
    assert (_stored_fixed(client, r.json()["id"])["analytic_below"]
            == CROSSBAR_DEFAULTS["analytic_below"])


def test_asking_for_the_analytic_tier_on_a_non_chain_model_is_422(client: TestClient) -> None:
    """``fixed.analytic_below > 0`` or a searched ``analytic_below`` on the residual graph:
    422 naming each field, nothing stored; ``analytic_below: 0`` explicitly is accepted."""
    assert client.post(f"{API}/workloads", data={"name": "res"},
                       files=_files(residual_onnx_cnn(), tiny_npz())).status_code == 201
    before = _n_studies(client)
    r = client.post(f"{API}/studies", json=_study("res", analytic_below=0.1))
    assert r.status_code == 422, r.text
    locs = [e["loc"] for e in r.json()["errors"]]
    assert ["body", "problem", "fixed", "analytic_below"] in locs
    assert "analytic moment tier" in r.text
    searched = _study("res")
    searched["problem"]["search_space"].append(
        {"name": "analytic_below", "type": "float", "low": 0.0, "high": 0.1})
    r = client.post(f"{API}/studies", json=searched)
    assert r.status_code == 422, r.text
    assert ["body", "problem", "search_space", 1] in [e["loc"] for e in r.json()["errors"]]
    assert _n_studies(client) == before
    r = client.post(f"{API}/studies", json=_study("res", analytic_below=0))
    assert r.status_code == 201, r.text
