"""The CLI: study files, key creation, and clear errors with exit codes."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from app.cli.main import app
from app.cli.study import load_study_file
from tests.app.conftest import BRANIN

runner = CliRunner()


def test_study_file_yaml_and_json(tmp_path) -> None:
    """YAML and JSON study files load to the same mapping; a non-mapping is refused."""
    y = tmp_path / "s.yaml"
    y.write_text(yaml.safe_dump(BRANIN))
    j = tmp_path / "s.json"
    j.write_text(json.dumps(BRANIN))
    assert load_study_file(y) == load_study_file(j) == BRANIN
    bad = tmp_path / "b.yaml"
    bad.write_text("- just\n- a list\n")
    r = runner.invoke(app, ["study", "create", str(bad)])
    assert r.exit_code == 2 and "mapping" in r.output


def test_create_against_unreachable_server(tmp_path) -> None:
    """No server: a one-line error naming the URL, exit code 1."""
    y = tmp_path / "s.yaml"
    y.write_text(yaml.safe_dump(BRANIN))
    r = runner.invoke(app, ["study", "create", str(y), "--url", "http://127.0.0.1:9"])
    assert r.exit_code == 1 and "cannot reach http://127.0.0.1:9" in r.output


def test_keys_create(migrated_url) -> None:
    """`xbar keys create` prints a key once; the database holds only its hash."""
    from sqlalchemy import create_engine, text

    r = runner.invoke(app, ["keys", "create", "--name", "ci", "--database-url", migrated_url])
    assert r.exit_code == 0, r.output
    key = r.stdout.strip().splitlines()[-1]
    assert key.startswith("xbar_") and len(key) > 30
    eng = create_engine(migrated_url)
    with eng.connect() as c:
        rows = c.execute(text("select name, key_hash from api_keys")).all()
    eng.dispose()
    assert rows[0][0] == "ci" and key not in rows[0][1]
