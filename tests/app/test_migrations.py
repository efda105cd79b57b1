"""Alembic: the migrations build exactly the schema of the ORM models, on every backend, and
carry existing rows forward."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, Table, insert, select

from app.core.db import make_engine
from app.migrate import alembic_config, current_revision, head_revision, is_up_to_date, upgrade
from app.models import Base, utcnow


def test_upgrade_matches_models(db_url) -> None:
    """After `upgrade head` the database is at head and autogenerate finds no difference."""
    engine = make_engine(db_url)
    assert not is_up_to_date(engine)
    upgrade(db_url)
    assert is_up_to_date(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == [], diff
    assert head_revision(db_url) == "0006"


def _study_row(name: str, search_space: dict) -> dict:
    now = utcnow()
    return {"name": name, "state": "running", "definition": {}, "objectives": [],
            "search_space": search_space, "method": "sobol", "seed": 0, "parallelism": 1,
            "next_number": 0, "n_completed": 0, "n_failed": 0, "total_cost_s": 0.0,
            "pareto_version": 0, "created_at": now, "updated_at": now}


def test_0002_backfills_target_fidelity(db_url) -> None:
    """Studies stored before 0002 get the top of their fidelity range as target fidelity, or
    1.0 without a range; new rows default to 1.0; downgrading drops the column again."""
    upgrade(db_url, "0001")
    engine = make_engine(db_url)
    spaces = {"short": {"params": [], "fidelity_range": [0.1, 0.8]},
              "full": {"params": [], "fidelity_range": [0.0, 1.0]},
              "none": {"params": []}}
    studies = Table("studies", MetaData(), autoload_with=engine)
    with engine.begin() as conn:
        conn.execute(insert(studies), [_study_row(k, v) for k, v in spaces.items()])
    upgrade(db_url, "0002")
    assert current_revision(engine) == "0002"
    studies = Table("studies", MetaData(), autoload_with=engine)
    with engine.begin() as conn:
        conn.execute(insert(studies), [_study_row("new", {"params": []})])
        got = dict(conn.execute(select(studies.c.name, studies.c.target_fidelity)).all())
    assert got == {"short": 0.8, "full": 1.0, "none": 1.0, "new": 1.0}
    command.downgrade(alembic_config(db_url), "0001")
    columns = {c.name for c in Table("studies", MetaData(), autoload_with=engine).columns}
    engine.dispose()
    assert "target_fidelity" not in columns and "search_space" in columns


def test_0004_sqlite_autoincrement_keeps_rows(db_url) -> None:
    """0004 rebuilds ``studies``, ``trials`` and ``events`` with AUTOINCREMENT on SQLite (no-op
    on PostgreSQL): every row and foreign key survives, a deleted newest id is not handed out
    again, and the downgrade round trip keeps the rows too."""
    upgrade(db_url, "0003")
    engine = make_engine(db_url)
    meta = MetaData()
    studies, trials, results, events = (Table(t, meta, autoload_with=engine) for t in
                                        ("studies", "trials", "trial_results", "events"))
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(insert(studies), [_study_row("keep", {"params": []}),
                                       _study_row("drop", {"params": []})])
        conn.execute(insert(trials), [{"study_id": 1, "number": 0, "state": "completed",
                                       "params": {"x": 1}, "fidelity": 1.0, "seed": 0,
                                       "attempt": 1, "is_pareto": True, "created_at": now,
                                       "updated_at": now}])
        conn.execute(insert(results), [{"trial_id": 1, "attempt": 1, "lease_token": "t",
                                        "values": {"f": 1.0}, "cost_s": 1.0, "details": {},
                                        "created_at": now}])
        conn.execute(insert(events), [{"study_id": 1, "type": "created", "payload": {},
                                       "created_at": now}])
    upgrade(db_url, "0004")

    def snapshot() -> dict[str, list]:
        with engine.connect() as conn:
            return {t.name: [tuple(r) for r in conn.execute(select(t.c.id)).all()]
                    for t in (studies, trials, results, events)}

    assert snapshot() == {"studies": [(1,), (2,)], "trials": [(1,)], "trial_results": [(1,)],
                          "events": [(1,)]}
    with engine.begin() as conn:
        conn.execute(studies.delete().where(studies.c.id == 2))
        new_id = conn.execute(insert(studies).returning(studies.c.id),
                              [_study_row("new", {"params": []})]).scalar_one()
    assert new_id == 3
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            sql = dict(conn.exec_driver_sql("SELECT name, sql FROM sqlite_master").all())
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        assert all("AUTOINCREMENT" in sql[t] for t in ("studies", "trials", "events"))
    command.downgrade(alembic_config(db_url), "0003")
    assert snapshot()["trial_results"] == [(1,)] and snapshot()["studies"] == [(1,), (3,)]
    upgrade(db_url)
    assert is_up_to_date(engine) and snapshot()["events"] == [(1,)]
    engine.dispose()
