"""``bench/mitigation.py`` wires section at a tiny size (digits-cnn, 32x32 and 64x64 arrays at
30 Ω, a 40-image test subset): the JSON has its shape, its numbers are finite and consistent
with each other, the orderings are the ones its own drops give, and the one-product read it
uses agrees with the simulator's per-slice read."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from bench import mitigation


@pytest.fixture(scope="module")
def wires_json(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("mitigation") / "mitigation-tiny.json"
    assert mitigation.main([
        "--workload", "digits-cnn", "--sections", "wires", "--sizes", "32", "64",
        "--wires", "30", "--test-limit", "40", "--drs-rounds", "1",
        "--check-images", "1", "--out", str(out),
    ]) == 0
    body = json.loads(out.read_text())
    body["_png"] = out.with_suffix(".png")
    return body


def test_wires_json_structure_and_values(wires_json: dict) -> None:
    body = wires_json
    assert body["workload"] == "digits-cnn" and "commit" in body["code_state"]
    wires = body["wires"]
    assert "partial" not in wires
    n = wires["test_images"]
    assert n == 40 and wires["sizes"] == [32, 64] and wires["wires_r_ohm"] == [30.0]
    assert len(wires["rows"]) == 2
    sw = wires["software_accuracy"]
    assert 0.5 < sw <= 1 and math.isclose(wires["software_accuracy_se"],
                                          math.sqrt(sw * (1 - sw) / n))
    for row in wires["rows"]:
        ideal = row["ideal_wires"]["accuracy"]
        assert math.isclose(row["ideal_wires"]["drop_vs_software"], sw - ideal)
        assert 0 < row["worst_column_loss"] < 1
        for layer in row["magnitude"].values():
            assert 0 <= layer["column_loss_mean"] <= layer["column_loss_max"]
            assert layer["column_loss_max"] <= layer["cell_loss_max"] < 1
        for scheme in mitigation.remap.SCHEMES:
            cell = row[scheme]
            acc = cell["accuracy"]
            assert 0 <= acc <= 1 and math.isfinite(cell["drop_vs_ideal_wires"])
            assert math.isclose(cell["drop_vs_ideal_wires"], ideal - acc)
            assert math.isclose(cell["drop_vs_software"], sw - acc)
            flips = cell["flips_vs_ideal_wires"]
            assert math.isclose(flips["lost"] - flips["gained"], round((ideal - acc) * n))
            assert cell["logit_rel_error"] > 0 and cell["placement_cost"] > 0
            # the one-product read is the simulator's per-slice read (float32 rounding)
            assert cell["check_rel_error"] < 1e-5
        assert set(row["none"]["layer_schemes"].values()) == {"none"}
        assert set(row["srs"]["layer_schemes"].values()) == {"srs"}
        # DRS starts from SRS and keeps the best placement: never a higher placement cost
        assert row["drs"]["placement_cost"] <= row["srs"]["placement_cost"] * (1 + 1e-9)
        drops = [row[s]["drop_vs_ideal_wires"] for s in mitigation.remap.SCHEMES]
        order = row["ordering"]
        assert order["drops_none_srs_drs"] == drops
        assert order["paper_order_none_gt_srs_gt_drs"] == (drops[0] > drops[1] > drops[2])
        for s, se in zip(mitigation.remap.SCHEMES[1:], order["paired_se_srs_drs_vs_none"],
                         strict=True):
            v = row[s]["vs_none"]
            assert math.isclose(se, math.sqrt(v["none_only"] + v["scheme_only"]) / n)
            assert math.isclose(v["scheme_only"] - v["none_only"],
                                round((row[s]["accuracy"] - row["none"]["accuracy"]) * n))
    # larger arrays: more IR drop
    by = {r["rows"]: r["worst_column_loss"] for r in wires["rows"]}
    assert by[32] < by[64]
    assert body["_png"].stat().st_size > 1000


def test_identity_mapping_alone(tmp_path: Path) -> None:
    out = tmp_path / "none.json"
    assert mitigation.main([
        "--workload", "digits-cnn", "--sections", "wires", "--schemes", "none", "--sizes", "32",
        "--wires", "30", "--test-limit", "20", "--check-images", "0", "--out", str(out),
    ]) == 0
    (row,) = json.loads(out.read_text())["wires"]["rows"]
    assert "srs" not in row and "ordering" not in row
    none = row["none"]
    assert none["placement_cost"] is None and none["check_rel_error"] is None
    assert math.isclose(none["drop_vs_ideal_wires"],
                        row["ideal_wires"]["accuracy"] - none["accuracy"])
    assert out.with_suffix(".png").stat().st_size > 1000


def test_input_calibration_matches_the_simulators() -> None:
    from simulator.analog_model import AnalogModel
    from simulator.config import CrossbarConfig
    from simulator.workloads import get_workload

    w = get_workload("digits-cnn")
    cfg = CrossbarConfig(rows=32, cols=32)
    ref = AnalogModel(w.model, cfg, nonidealities=[], adc=False)
    ref.calibrate(w.x_calib[:16])
    ours = AnalogModel(w.model, cfg, nonidealities=[], adc=False)
    mitigation.wires.calibrate_inputs(ours, w.x_calib[:16])
    for name, layer in ref.layers.items():
        other = ours.layers[name]
        assert other.input_scale == layer.input_scale > 0
        assert (other.signed_inputs, other.positions) == (layer.signed_inputs, layer.positions)


def test_rejects_a_non_positive_size(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as e:
        mitigation.main(["--sizes", "0", "--out", str(tmp_path / "x.json")])
    assert e.value.code == 2
    assert "must be positive" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_compensation_section_at_every_size_and_wire(tmp_path: Path) -> None:
    """Device-noise compensators trained once and chip-aware ones per size x resistance, read
    at every size x resistance, on the noiseless chip and on programmed chips (one accuracy
    per chip, their mean reported)."""
    out = tmp_path / "comp.json"
    assert mitigation.main([
        "--workload", "digits-cnn", "--sections", "compensation", "--sizes", "32", "64",
        "--wires", "30", "--test-limit", "20", "--comp-train", "64", "--seeds", "2",
        "--out", str(out),
    ]) == 0
    comp = json.loads(out.read_text())["compensation"]
    assert "partial" not in comp and comp["programmed_chips"] == 2
    assert [(r["rows"], r["wire_r_ohm"]) for r in comp["rows"]] == [(32, 30.0), (64, 30.0)]
    sw = comp["software_accuracy"]
    for row in comp["rows"]:
        assert row["chip_train_time_s"] > 0
        for label in ("off", "compensation_all", "compensation_chip"):
            for chip, n_chips in (("noiseless", 1), ("programmed", 2)):
                cell = row[f"{label}_{chip}"]
                assert len(cell["per_chip"]) == n_chips
                assert math.isclose(cell["accuracy"], sum(cell["per_chip"]) / n_chips)
                assert math.isclose(cell["fraction_of_software"], cell["accuracy"] / sw)
                # accuracies on 20 images are multiples of 1/20
                assert all(math.isclose(a * 20, round(a * 20)) for a in cell["per_chip"])
    assert comp["overhead"]
    # a compensation-only run still gets its figure
    assert out.with_suffix(".png").stat().st_size > 1000


def test_programmed_chips_differ_by_seed_and_refuse_read_noise() -> None:
    from simulator.config import CrossbarConfig
    from simulator.workloads import get_workload

    w = get_workload("digits-cnn")
    cfg = CrossbarConfig(rows=32, cols=32, prog_sigma=0.2, read_sigma=0.0, wire_r_ohm=30.0)
    x = w.x_test[:8]
    runs = [mitigation.wires.wires_logits(w.model, cfg, x, w.x_calib[:16],
                                          ir_drop="first_order", check_images=0,
                                          programmed=True, seed=s)["logits"] for s in (0, 0, 1)]
    assert torch.equal(runs[0], runs[1]) and not torch.allclose(runs[0], runs[2])
    with pytest.raises(ValueError, match="read_sigma"):
        mitigation.wires.wires_logits(w.model, cfg.replace(read_sigma=0.01), x, w.x_calib[:16],
                                      ir_drop="first_order", programmed=True)
