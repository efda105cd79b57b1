"""``xbar eval``: table and JSON output, and exit code 2 with a message on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from app.cli.eval import app

runner = CliRunner()


def test_eval_json(tmp_path: Path, model_cache: Path) -> None:
    """--json prints an Evaluation whose config fields come from the file."""
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"rows": 64, "cols": 64, "adc_bits": 6}))
    result = runner.invoke(app, ["--workload", "digits-mlp", "--config", str(cfg),
                                 "--fidelity", "0", "--seed", "3", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert 0.5 < data["accuracy"] <= 1.0 and data["area_mm2"] > 0
    assert data["details"]["config"]["rows"] == 64 and data["details"]["seed"] == 3
    assert data["details"]["n_draws"] == 2


def test_eval_table_when_mounted(model_cache: Path) -> None:
    """Mounted as ``xbar eval`` in a parent CLI, it prints a table (defaults for the config)."""
    parent = typer.Typer()
    parent.add_typer(app, name="eval")

    @parent.command()
    def other() -> None:  # a second command keeps ``eval`` a sub-command
        """Unused."""

    result = runner.invoke(parent, ["eval", "--workload", "digits-mlp", "--fidelity", "0"])
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.stdout and "area (mm²)" in result.stdout


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ('{"adc_bits": 12}', [], "adc_bits"),
        ('{"rowz": 64}', [], "rowz"),
        ("[1, 2]", [], "JSON object"),
        ("{not json", [], "not valid JSON"),
        ("{}", ["--fidelity", "1.5"], "fidelity"),
        ("{}", ["--workload", "nope"], "nope"),
        ("{}", ["--option", "colour=red", "--workload", "digits-mlp"], "colour"),
    ],
)
def test_eval_bad_input_exits_2(tmp_path: Path, content: str, args: list[str],
                                message: str) -> None:
    """Invalid configs, fidelities, workloads and options print to stderr and exit 2."""
    cfg = tmp_path / "cfg.json"
    cfg.write_text(content)
    result = runner.invoke(app, ["--config", str(cfg), *args])
    assert result.exit_code == 2
    assert message in result.stderr and result.stdout == ""


def test_eval_missing_config_file_exits_2(tmp_path: Path) -> None:
    """A config path that does not exist is reported, exit code 2."""
    result = runner.invoke(app, ["--config", str(tmp_path / "missing.json")])
    assert result.exit_code == 2 and "cannot read config" in result.stderr
