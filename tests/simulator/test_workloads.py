"""Workloads: digits accuracy and cache, CIFAR-10 batch reader, registry and entry points."""

from __future__ import annotations

import pickle
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from simulator import (
    CrossbarConfig,
    Workload,
    WorkloadError,
    evaluate,
    get_workload,
    list_workloads,
    workload_info,
)
from simulator.workloads import OptionSpec, check_options, data_missing, registry


def test_digits_workloads_are_accurate(digits_mlp: Workload, digits_cnn: Workload) -> None:
    """Both digits models reach >= 95 % clean test accuracy on the fixed 360-image split."""
    for w in (digits_mlp, digits_cnn):
        assert w.x_test.shape == torch.Size([360, 1, 8, 8]) and w.input_shape == (1, 8, 8)
        assert w.clean_accuracy() >= 0.95
        assert torch.bincount(w.y_test).tolist() == [36, 36, 35, 37, 36, 37, 36, 36, 35, 36]
        assert not w.model.training


def test_digits_cache_is_reused(model_cache: Path, digits_mlp: Workload, monkeypatch) -> None:
    """A second load comes from the cache (no retraining, file untouched, same weights);
    retrain=True trains again to the same weights (deterministic training)."""
    files = sorted(model_cache.glob("digits-mlp-*.pt"))
    assert len(files) == 1
    mtime = files[0].stat().st_mtime_ns
    again = get_workload("digits-mlp")
    assert again.from_cache and files[0].stat().st_mtime_ns == mtime
    for a, b in zip(again.model.state_dict().values(), digits_mlp.model.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    monkeypatch.setenv("XBAR_CACHE_DIR", str(model_cache / "other"))
    fresh = get_workload("digits-mlp", retrain=True)
    assert len(list((model_cache / "other").glob("digits-mlp-*.pt"))) == 1
    assert not fresh.from_cache
    for a, b in zip(fresh.model.state_dict().values(), digits_mlp.model.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)


def _write_cifar(folder: Path, n_train: int = 60, n_test: int = 30) -> None:
    """CIFAR-10-format pickles whose class is visible in the mean colour (learnable)."""
    rng = np.random.default_rng(0)
    palette = rng.integers(0, 256, size=(10, 3))

    def batch(n: int) -> dict:
        labels = rng.integers(0, 10, size=n)
        img = palette[labels][:, :, None] + rng.normal(0, 10, size=(n, 3, 1024))
        data = np.clip(img, 0, 255).astype(np.uint8).reshape(n, 3072)
        return {b"data": data, b"labels": labels.tolist(), b"batch_label": b"synthetic"}

    folder.mkdir(parents=True)
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch(n_train)))
    (folder / "test_batch").write_bytes(pickle.dumps(batch(n_test)))


@pytest.mark.slow
def test_cifar10_reads_batches_and_evaluates(tmp_path: Path, model_cache: Path,
                                             monkeypatch) -> None:
    """The reader finds the batches under $XBAR_DATA_DIR, trains the VGG-style model on the
    300 generated images, learns the colour-coded classes, and runs through evaluate()."""
    _write_cifar(tmp_path / "cifar-10-batches-py")
    monkeypatch.setenv("XBAR_DATA_DIR", str(tmp_path))
    assert data_missing("cifar10") is None
    w = get_workload("cifar10", epochs=10, test_limit=12)
    assert w.x_test.shape == torch.Size([12, 3, 32, 32]) and w.metadata["n_train"] == 300
    assert float(w.x_test.min()) >= 0 and float(w.x_test.max()) <= 1
    assert w.clean_accuracy() >= 0.5
    cheap = CrossbarConfig(rows=256, cols=256, cell_bits=4, weight_bits=5, input_bits=4,
                           dac_bits=4, adc_bits=8)
    ev = evaluate(cheap, w, 0.0, seed=0)
    assert ev.details["n_test"] == 12 and len(ev.details["layers"]) == 4
    assert 0 <= ev.accuracy <= 1


def test_cifar10_missing_data_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    """No XBAR_DATA_DIR, a root without the batch folder or a malformed batch raise
    WorkloadError (naming the variable, never the configured path); data_missing says the same
    without loading anything."""
    monkeypatch.delenv("XBAR_DATA_DIR", raising=False)
    with pytest.raises(WorkloadError, match="XBAR_DATA_DIR"):
        get_workload("cifar10")
    assert "set XBAR_DATA_DIR" in data_missing("cifar10")
    monkeypatch.setenv("XBAR_DATA_DIR", str(tmp_path))
    with pytest.raises(WorkloadError, match="test_batch") as info:
        get_workload("cifar10")
    assert str(tmp_path) not in str(info.value)
    assert "missing cifar-10-batches-py/test_batch" in data_missing("cifar10")
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((2, 5), np.uint8),
                                                     b"labels": [0, 1]}))
    (folder / "data_batch_1").write_bytes(b"not a pickle")
    assert data_missing("cifar10") is None
    with pytest.raises(WorkloadError, match="data_batch_1"):
        get_workload("cifar10")
    assert data_missing("digits-cnn") is None


def test_no_workload_option_names_a_location(tmp_path: Path, monkeypatch) -> None:
    """data_dir and cache_dir are no workload options: they are refused by name before any
    file is read (the data root and cache are the environment's)."""
    monkeypatch.setenv("XBAR_DATA_DIR", str(tmp_path / "empty"))
    for name in ("cifar10", "digits-mlp", "digits-cnn"):
        info = {w["name"]: w for w in list_workloads()}[name]
        declared = [o["name"] for o in info["options"]]
        assert not [o for o in declared if o.endswith(("_dir", "_path", "_file"))], declared
        assert [k for k, _ in check_options(name, {"data_dir": str(tmp_path),
                                                  "cache_dir": str(tmp_path)})] == [
            "data_dir", "cache_dir"]
    with pytest.raises(WorkloadError, match="no option 'data_dir'"):
        get_workload("cifar10", data_dir=str(tmp_path))


def test_declared_options_are_checked_with_types_and_bounds() -> None:
    """Each bad option is one (name, reason) entry: unknown names, booleans for ints, values
    out of bounds, null where not allowed; valid values pass."""
    assert check_options("cifar10", {"epochs": 3, "test_limit": None, "retrain": True}) == []
    bad = dict(check_options("cifar10", {"epochs": True, "train_limit": 10**30,
                                         "test_limit": 0, "retrain": 1, "colour": "red"}))
    assert set(bad) == {"epochs", "train_limit", "test_limit", "retrain", "colour"}
    assert "int" in bad["epochs"] and "50000" in bad["train_limit"]
    assert "bool" in bad["retrain"] and "no option 'colour'" in bad["colour"]
    assert check_options("digits-cnn", {"retrain": None}) == [
        ("retrain", "retrain must not be null")]
    with pytest.raises(WorkloadError, match="epochs must be in"):
        get_workload("cifar10", epochs=1000)
    spec = OptionSpec(name="scale", type="float", low=0.0, high=2.0)
    assert spec.check(1) is None and spec.check(1.5) is None
    assert spec.check(float("nan")) and spec.check(2.5) and spec.check("1")


def test_list_workloads_describes_without_loading() -> None:
    """The bundled workloads are listed with their metadata, sorted by name."""
    listed = {w["name"]: w for w in list_workloads()}
    assert {"digits-mlp", "digits-cnn", "cifar10"} <= set(listed)
    assert listed["cifar10"]["needs_data_dir"] is True
    assert listed["digits-cnn"] == {
        "name": "digits-cnn", "description": listed["digits-cnn"]["description"],
        "dataset": "sklearn-digits", "input_shape": [1, 8, 8], "num_classes": 10,
        "needs_data_dir": False,
        "options": [{"name": "retrain", "type": "bool", "default": False, "low": None,
                     "high": None, "nullable": False,
                     "description": "Train even if a cached model exists."}],
    }
    assert [o["name"] for o in listed["cifar10"]["options"]] == [
        "epochs", "train_limit", "test_limit", "retrain"]


def test_unknown_name_and_option_are_named() -> None:
    """Unknown workloads list the known ones; unknown options are named."""
    with pytest.raises(WorkloadError, match="'nope'.*digits-cnn"):
        get_workload("nope")
    with pytest.raises(WorkloadError, match="'colour'"):
        get_workload("digits-mlp", colour="red")


@workload_info(name="toy", description="a toy linear model", dataset="random",
               input_shape=(4,), num_classes=2)
def toy_workload(scale: float = 1.0) -> Workload:
    """A third-party-style factory used through a fake entry point."""
    torch.manual_seed(0)
    x = torch.rand(50, 4) * scale
    y = (x.sum(-1) > 2 * scale).long()
    model = nn.Sequential(nn.Linear(4, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[-1.0] * 4, [1.0] * 4]))
        model[0].bias.copy_(torch.tensor([2.0 * scale, -2.0 * scale]))
    return Workload(name="toy", description="toy", dataset="random", model=model.eval(),
                    x_test=x, y_test=y, x_calib=x, num_classes=2)


def test_entry_point_workloads(monkeypatch) -> None:
    """Factories declared in the xbar.workloads entry-point group are listed and loadable,
    and run through evaluate()."""
    ep = EntryPoint(name="toy", value="tests.simulator.test_workloads:toy_workload",
                    group="xbar.workloads")
    monkeypatch.setattr(registry, "_entry_points", lambda: {"toy": ep})
    listed = {w["name"]: w for w in list_workloads()}
    assert listed["toy"]["description"] == "a toy linear model"
    assert listed["toy"]["input_shape"] == [4]
    w = get_workload("toy", scale=2.0)
    assert float(w.x_test.max()) > 1.0
    ev = evaluate(CrossbarConfig(adc_bits=8), w, 0.0, seed=0)
    assert ev.accuracy >= 0.9
