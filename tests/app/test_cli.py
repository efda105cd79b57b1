"""The study CLI against a live server: every exit code (0 done, 1 failed or cancelled study,
2 bad input, 3 infrastructure), `show` with parameters and units, `list`, `delete`,
`validate` with line numbers, and progress without a trial budget."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from app.cli.main import app
from app.cli.render import progress_of, unit_of
from app.cli.study import load_study_file
from tests.app.conftest import BRANIN
from tests.app.helpers import wait_for
from tests.app.live import failing_server, serve, sqlite_url

runner = CliRunner()
DOWN = "http://127.0.0.1:9"
"""Nothing listens on the discard port."""


@pytest.fixture
def live(tmp_path, engine) -> Iterator[str]:
    """A service with a driver (tight per-study caps: max_trials <= 50)."""
    with serve(sqlite_url(tmp_path), engine, max_trials_per_study=50) as url:
        yield url


@pytest.fixture
def idle(tmp_path) -> Iterator[str]:
    """A service without a driver (max_trials <= 50): studies stay created until
    cancelled."""
    with serve(sqlite_url(tmp_path), run_driver=False, max_trials_per_study=50) as url:
        yield url


def _file(tmp_path, data=BRANIN, name: str = "s.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False) if name.endswith(".yaml")
                    else json.dumps(data))
    return path


def _cli(*args: str, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input, env={"COLUMNS": "200"})


def test_study_file_yaml_and_json(tmp_path) -> None:
    """YAML and JSON study files load to the same mapping; a non-mapping is exit 2."""
    assert load_study_file(_file(tmp_path)) == load_study_file(
        _file(tmp_path, name="s.json")) == BRANIN
    bad = tmp_path / "b.yaml"
    bad.write_text("- just\n- a list\n")
    r = _cli("study", "create", bad)
    assert r.exit_code == 2 and "mapping" in r.output


def test_validate_locally_with_line_numbers(tmp_path) -> None:
    """Syntax errors name line and column; field errors name the line of the field, as the
    API words them; a valid file exits 0 naming its objectives."""
    ok = _cli("study", "validate", _file(tmp_path))
    assert ok.exit_code == 0, ok.output
    assert "valid (2 objectives" in ok.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nproblem:\n  name: [branin\nbudget: {max_trials: 3}\n")
    r = _cli("study", "validate", broken)
    assert r.exit_code == 2 and f"{broken}:4:7: not valid YAML" in r.output
    bad_json = tmp_path / "b.json"
    bad_json.write_text('{"name": "x",\n "budget": }')
    r = _cli("study", "validate", bad_json)
    assert r.exit_code == 2 and f"{bad_json}:2:12: not valid JSON" in r.output
    wrong = _file(tmp_path, {**BRANIN, "parallelism": 0, "problem": {"name": "nope"}},
                  "wrong.yaml")
    r = _cli("study", "validate", wrong)
    assert r.exit_code == 2, r.output
    lines = yaml.safe_dump({**BRANIN, "parallelism": 0, "problem": {"name": "nope"}},
                           sort_keys=False).splitlines()
    assert f"{wrong}:{lines.index('parallelism: 0') + 1}: parallelism:" in r.output
    sem = _file(tmp_path, {**BRANIN, "problem": {"name": "nope"}}, "sem.yaml")
    r = _cli("study", "validate", sem)
    assert r.exit_code == 2 and f"{sem}:3: problem.name: unknown problem 'nope'" in r.output


def test_validate_on_the_server(tmp_path, idle) -> None:
    """--server asks POST /studies:validate, so the server's caps apply; nothing is stored;
    an unreachable server is exit 3."""
    assert _cli("study", "validate", _file(tmp_path), "--server", "--url", idle).exit_code == 0
    over = _file(tmp_path, {**BRANIN, "budget": {"max_trials": 51}}, "over.yaml")
    assert _cli("study", "validate", over).exit_code == 0  # this machine's default cap
    r = _cli("study", "validate", over, "--server", "--url", idle)
    assert r.exit_code == 2, r.output
    assert f"{over}:7: budget.max_trials: max_trials is at most 50" in r.output
    assert httpx.get(f"{idle}/api/v1/studies").json()["data"] == []
    r = _cli("study", "validate", _file(tmp_path), "--server", "--url", DOWN)
    assert r.exit_code == 3 and f"cannot reach {DOWN}" in r.output


def test_create_exit_codes(tmp_path, live) -> None:
    """0 created; 2 with the file's line for a 422 (a server cap); 3 unreachable or 5xx."""
    r = _cli("study", "create", _file(tmp_path), "--url", live)
    assert r.exit_code == 0 and "created study 1" in r.output
    over = _file(tmp_path, {**BRANIN, "budget": {"max_trials": 51}}, "over.yaml")
    r = _cli("study", "create", over, "--url", live)
    assert r.exit_code == 2, r.output
    assert f"{over}:7: budget.max_trials: max_trials is at most 50" in r.output
    r = _cli("study", "create", _file(tmp_path), "--url", DOWN)
    assert r.exit_code == 3 and f"cannot reach {DOWN}" in r.output
    with failing_server(503) as url:
        r = _cli("study", "create", _file(tmp_path), "--url", url)
    assert r.exit_code == 3 and "HTTP 503" in r.output
    assert [s["id"] for s in httpx.get(f"{live}/api/v1/studies").json()["data"]] == [1]


def test_create_watch_show_list_delete(tmp_path, live) -> None:
    """create --watch exits 0 once completed; show prints every front point with its
    parameters and units (and --json the API's documents); list shows the study; delete
    asks first, then the study answers exit 2 (404)."""
    r = _cli("study", "create", _file(tmp_path), "--url", live, "--watch", "--interval", "0.2")
    assert r.exit_code == 0, r.output
    assert "study 1 completed: 8 completed, 0 failed" in r.output
    api = httpx.get(f"{live}/api/v1/studies/1/pareto").json()
    shown = _cli("study", "show", "1", "--url", live, "--json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["pareto"] == api
    table = _cli("study", "show", "1", "--url", live)
    assert table.exit_code == 0
    heads = [f"{o['name']} {'↑' if o['direction'] == 'maximize' else '↓'}"
             for o in api["objectives"]]
    for name in ("x0", "x1", *heads, "cost (s)", f"Pareto front: {len(api['points'])} points"):
        assert name in table.stdout, (name, table.stdout)
    for p in api["points"]:
        assert f"{p['params']['x0']:.6g}" in table.stdout
    listed = _cli("study", "list", "--url", live)
    assert listed.exit_code == 0 and "bc" in listed.stdout and "8/8 trials" in listed.stdout
    assert [s["id"] for s in json.loads(_cli("study", "list", "--url", live, "--json").stdout)
            ] == [1]
    keep = _cli("study", "delete", "1", "--url", live, input="n\n")
    assert keep.exit_code == 1 and httpx.get(f"{live}/api/v1/studies/1").status_code == 200
    assert _cli("study", "delete", "1", "--url", live, "--yes").exit_code == 0
    gone = _cli("study", "show", "1", "--url", live)
    assert gone.exit_code == 2 and "HTTP 404" in gone.output
    assert _cli("study", "delete", "1", "--url", live, "--yes").exit_code == 2


def test_watch_exits_1_on_a_cancelled_study(tmp_path, idle) -> None:
    """`study create --watch` and `study watch` both exit 1 when the study ends cancelled;
    watching a missing study is exit 2, an unreachable server exit 3."""

    def cancel_first_study() -> None:
        wait_for(lambda: httpx.get(f"{idle}/api/v1/studies").json()["data"], timeout=30)
        httpx.post(f"{idle}/api/v1/studies/1:cancel")

    t = threading.Thread(target=cancel_first_study)
    t.start()
    r = _cli("study", "create", _file(tmp_path), "--url", idle, "--watch", "--interval", "0.2")
    t.join()
    assert r.exit_code == 1 and "study 1 cancelled" in r.output
    r = _cli("study", "watch", "1", "--url", idle)
    assert r.exit_code == 1 and "study 1 cancelled" in r.output
    assert _cli("study", "watch", "7", "--url", idle).exit_code == 2
    assert _cli("study", "watch", "1", "--url", DOWN).exit_code == 3


def test_progress_without_a_trial_budget() -> None:
    """Progress counts trials of max_trials, else cost of max_cost_s, else wall time of
    max_wall_s; never 'None'."""
    base = {"n_completed": 3, "n_failed": 1, "total_cost_s": 12.5,
            "started_at": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T00:01:30Z"}
    trials = progress_of({**base, "budget": {"max_trials": 9, "max_cost_s": 60}})
    assert (trials.done, trials.total, trials.unit) == (4, 9, "trials")
    cost = progress_of({**base, "budget": {"max_trials": None, "max_cost_s": 60}})
    assert (cost.done, cost.total, cost.unit) == (12.5, 60, "s cost")
    wall = progress_of({**base, "budget": {"max_wall_s": 600}})
    assert (wall.done, wall.total, wall.unit) == (90.0, 600, "s wall")
    assert unit_of("area_mm2") == "mm²" and unit_of("energy_uj") == "µJ"
    assert unit_of("latency_us") == "µs" and unit_of("tech_node_nm") == "nm"
    assert unit_of("accuracy") == "fraction" and unit_of("rows") is None


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
