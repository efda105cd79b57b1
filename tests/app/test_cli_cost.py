"""``xbar cost``: a NeuroSim network CSV in, every figure out; bad input exits 2 naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from app.cli.cost import cost
from app.cli.main import app as main_app
from simulator.cost.network import NEUROSIM_VGG8_CSV

app = typer.Typer()
app.command()(cost)
runner = CliRunner()

VGG8 = NEUROSIM_VGG8_CSV


@pytest.fixture
def vgg8(tmp_path: Path) -> Path:
    path = tmp_path / "NetWork_VGG8.csv"
    path.write_text(VGG8)
    return path


def test_cost_json_on_neurosim_csv(vgg8: Path) -> None:
    """--preset neurosim-v1.4 --json: every group, both latencies, TOPS/W, 8 layer rows."""
    result = runner.invoke(app, ["--network", str(vgg8), "--preset", "neurosim-v1.4", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    area = data["area_mm2"]
    assert set(area) == {"chip", "cim_array", "adc", "accumulation", "other_periphery",
                         "interconnect", "whitespace"}
    assert area["chip"] == pytest.approx(sum(v for k, v in area.items() if k != "chip"))
    # 9876 128x128 arrays hold weights (copies as NeuroSim V1.4 prints them); the area counts
    # every sub-array of NeuroSim's tiles: 36 x 9 x 16 + 67 x 4 x 16 = 9472 of 4F x 12F cells
    assert data["arrays"] == 9876
    assert area["cim_array"] == pytest.approx(9472 * 128 * 128 * 48 * (22e-3) ** 2 * 1e-6)
    energy = data["dynamic_energy_uj"]
    assert energy["per_image"] == pytest.approx(
        energy["adc"] + energy["accumulation"] + energy["other"])
    lat = data["latency_us"]
    assert 0 < lat["pipelined_per_image"] <= lat["layer_by_layer_per_image"]
    assert data["operations_per_image"] == 1231835136.0
    assert data["tops_per_w"] == pytest.approx(1231835136.0 / (energy["per_image"] * 1e6))
    assert [row["speed_up"] for row in data["layers"]] == [16, 16, 4, 4, 2, 1, 1, 8]
    assert data["assumptions"]["adc_type"] == "mlsa"
    # leakage as NeuroSim books it (0.2826 µJ per image there), per layer and in total, and in
    # NeuroSim's TOPS/W: ops / ((E_dyn + E_leak)·1.22)
    leak = data["leakage"]
    assert leak["energy_uj"] == pytest.approx(0.2826, rel=0.10)
    assert leak["energy_uj"] == pytest.approx(sum(r["leakage_energy_uj"] for r in data["layers"]))
    assert data["layers"][0]["leakage_energy_uj"] == 0.0  # the slowest stage never waits
    assert leak["energy_share"] == pytest.approx(
        leak["energy_uj"] / (leak["energy_uj"] + energy["per_image"]))
    assert data["tops_per_w_neurosim"] == pytest.approx(
        1231835136.0 / ((energy["per_image"] + leak["energy_uj"]) * 1e6 * 1.22))
    assert "leakage energy" not in data["not_modelled"]


def test_config_file_overrides_the_preset(vgg8: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"adc_type": "sar", "speed_up_degree": 1}))
    result = runner.invoke(app, ["--network", str(vgg8), "--preset", "neurosim-v1.4",
                                 "--config", str(cfg), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["assumptions"]["adc_type"] == "sar"
    assert [row["speed_up"] for row in data["layers"]] == [1] * 8


def test_table_output_and_registration(vgg8: Path) -> None:
    """The command is mounted on ``xbar``; without --json it prints a table."""
    result = runner.invoke(main_app, ["cost", "--network", str(vgg8)])
    assert result.exit_code == 0, result.output
    assert "latency pipelined_per_image" in result.stdout and "TOPS/W" in result.stdout


def test_bad_csv_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("32,32,3,3,3,128,0,1\n16,16,128,3\n")
    result = runner.invoke(app, ["--network", str(bad)])
    assert result.exit_code == 2
    assert "line 2" in result.output and "expected 8" in result.output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--preset", "nope"], "unknown preset"),
        (["--config", "{missing}"], "cannot read config"),
    ],
)
def test_bad_options_exit_2(vgg8: Path, tmp_path: Path, args: list[str], fragment: str) -> None:
    args = [a.replace("{missing}", str(tmp_path / "none.json")) for a in args]
    result = runner.invoke(app, ["--network", str(vgg8), *args])
    assert result.exit_code == 2
    assert fragment in result.output


def test_invalid_config_value_exit_2(vgg8: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"adc_type": "flash"}))
    result = runner.invoke(app, ["--network", str(vgg8), "--config", str(cfg)])
    assert result.exit_code == 2
    assert "adc_type" in result.output


def test_missing_csv_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--network", str(tmp_path / "none.csv")])
    assert result.exit_code == 2
    assert "cannot read network" in result.output
