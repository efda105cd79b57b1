"""Alembic: the migration builds exactly the schema of the ORM models, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.core.db import make_engine
from app.migrate import head_revision, is_up_to_date, upgrade
from app.models import Base


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
    assert head_revision(db_url) == "0001"
