"""``bench/scale.py`` at a tiny size: the JSON has its shape and its counts are the study's
rows, and its numbers are measured (positive, consistent with each other)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import scale
from tests.conftest import POSTGRES_ADMIN_URL, REQUIRE_POSTGRES


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("pg", marks=pytest.mark.postgres)])
def test_scale_writes_measured_json_and_png(tmp_path: Path, backend: str) -> None:
    if backend == "pg" and not POSTGRES_ADMIN_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("XBAR_REQUIRE_POSTGRES=1 but XBAR_TEST_POSTGRES_URL is not set")
        pytest.skip("set XBAR_TEST_POSTGRES_URL to run the PostgreSQL backend")
    out = tmp_path / "scale.json"
    assert scale.main(["--sizes", "20", "--backends", backend, "--workers", "2",
                       "--timeout-s", "60", "--warmup", "0", "--out", str(out)]) == 0
    body = json.loads(out.read_text())
    assert body["method"] == "random" and body["parallelism"] == scale.PARALLELISM
    (run,) = body["runs"]
    assert run["backend"] == backend and run["n_trials"] == 20
    assert run["completed"] is True and run["n_completed"] == 20
    assert run["wall_s"] > 0 and run["steps"] >= 1
    assert abs(run["trials_per_s"] - 20 / run["wall_s"]) < 0.1 + 0.01 * run["trials_per_s"]
    # wall_s is rounded to 1 ms (up to 0.5 ms / 20 trials here), per_trial_ms to 1 µs
    assert abs(run["per_trial_ms"] - 1e3 * run["wall_s"] / 20) <= 0.5 / 20 + 0.0005 + 1e-9
    assert run["first_10pct_ms"] > 0 and run["last_10pct_ms"] >= 0
    assert 0 < run["cpu_per_trial_ms"] and body["warmup_trials"] == 0
    assert 0 < run["driver_cpu_per_trial_ms"] <= run["cpu_per_trial_ms"]
    if backend == "sqlite":  # its work runs in this process: no server to measure
        assert run["server_cpu_per_trial_ms"] is None
    else:  # read from /proc (10 ms ticks: 20 trials may round to none)
        assert run["server_cpu_per_trial_ms"] is not None
        assert run["server_cpu_per_trial_ms"] >= 0
    assert len(run["load_avg_1min"]) == 2 and min(run["load_avg_1min"]) >= 0
    assert out.with_suffix(".png").stat().st_size > 1000
    (row,) = body["summary"]  # one run: its median, min and max are the run's figures
    assert row["n_runs"] == 1 and row["completed"] is True
    assert row["trials_per_s"] == row["trials_per_s_min"] == row["trials_per_s_max"] \
        == run["trials_per_s"]
    assert row["load_avg_1min_range"] == [min(run["load_avg_1min"]), max(run["load_avg_1min"])]


def _run(backend: str, n: int, tps: float, server: float | None, load: float) -> dict:
    return {"backend": backend, "n_trials": n, "completed": True, "trials_per_s": tps,
            "per_trial_ms": 1e3 / tps, "cpu_per_trial_ms": 2.0, "driver_cpu_per_trial_ms": 0.5,
            "server_cpu_per_trial_ms": server, "first_10pct_ms": 3.0, "last_10pct_ms": 3.0,
            "load_avg_1min": [load, load + 1.0]}


def test_summary_gives_median_min_and_max_per_backend_and_size() -> None:
    rows = scale.summarize([_run("pg", 10, 10.0, 0.3, 2.0), _run("pg", 10, 30.0, 0.1, 5.0),
                            _run("pg", 10, 20.0, 0.2, 1.0), _run("sqlite", 10, 40.0, None, 3.0),
                            _run("sqlite", 10, 50.0, None, 4.0)])
    pg, lite = rows
    assert (pg["backend"], pg["n_runs"], lite["backend"], lite["n_runs"]) == ("pg", 3, "sqlite", 2)
    assert (pg["trials_per_s"], pg["trials_per_s_min"], pg["trials_per_s_max"]) == (20, 10, 30)
    assert pg["server_cpu_per_trial_ms"] == 0.2 and pg["load_avg_1min_range"] == [1.0, 6.0]
    assert lite["trials_per_s"] == 45.0  # an even count: the mean of the two middle ones
    assert lite["server_cpu_per_trial_ms"] is None and lite["server_cpu_per_trial_ms_max"] is None


@pytest.mark.parametrize(("flag", "message"), [("--sizes", "--sizes must be positive"),
                                               ("--repeats", "--repeats must be positive")])
def test_scale_rejects_a_non_positive_count(flag: str, message: str, tmp_path: Path,
                                            capsys) -> None:
    """A zero size or repeat count exits with status 2 naming the flag and writes nothing."""
    with pytest.raises(SystemExit) as exc:
        scale.main([flag, "0", "--out", str(tmp_path / "x.json")])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
