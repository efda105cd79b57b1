"""`xbar keys create/list/revoke` against a migrated database: admin flag, listing without
hashes, idempotent revoke by id or prefix, exit code 2 for an unknown key; migration 0003."""

from __future__ import annotations

from alembic import command
from sqlalchemy import MetaData, Table, insert, select
from typer.testing import CliRunner

from app.cli.main import app
from app.core.db import Database, make_engine
from app.core.security import generate_key, key_prefix
from app.migrate import alembic_config, upgrade
from app.models import ApiKey, utcnow

runner = CliRunner()


def _create(url: str, *args: str) -> str:
    r = runner.invoke(app, ["keys", "create", *args, "--database-url", url])
    assert r.exit_code == 0, r.output
    return r.stdout.strip().splitlines()[-1]


def _rows(url: str) -> dict[str, ApiKey]:
    db = Database(url)
    with db.session() as s:
        rows = {k.name: k for k in s.scalars(select(ApiKey))}
        s.expunge_all()
    db.dispose()
    return rows


def test_create_list_revoke(migrated_url) -> None:
    """Keys are created plain or admin; list shows id, name, prefix and admin but never the
    hash or the key; revoke by prefix and by id sets revoked_at once."""
    alice = _create(migrated_url, "alice")
    root = _create(migrated_url, "root", "--admin")
    rows = _rows(migrated_url)
    assert (rows["alice"].is_admin, rows["root"].is_admin) == (False, True)
    assert rows["alice"].prefix == key_prefix(alice) and rows["alice"].revoked_at is None

    r = runner.invoke(app, ["keys", "list", "--database-url", migrated_url])
    assert r.exit_code == 0, r.output
    for row in rows.values():
        assert row.key_hash not in r.output and row.key_hash[:16] not in r.output
    assert alice not in r.output and root not in r.output
    lines = {ln.split("│")[2].strip(): ln for ln in r.stdout.splitlines() if "│" in ln}
    assert set(lines) == {"alice", "root"}
    assert key_prefix(alice) in lines["alice"] and " no " in lines["alice"]
    assert key_prefix(root) in lines["root"] and " yes " in lines["root"]
    assert lines["alice"].rstrip(" │").endswith("-")  # not revoked

    r = runner.invoke(app, ["keys", "revoke", key_prefix(alice), "--database-url", migrated_url])
    assert r.exit_code == 0 and "revoked" in r.output
    revoked_at = _rows(migrated_url)["alice"].revoked_at
    assert revoked_at is not None
    again = runner.invoke(app, ["keys", "revoke", str(rows["alice"].id),
                                "--database-url", migrated_url])
    assert again.exit_code == 0 and "already revoked" in again.output
    assert _rows(migrated_url)["alice"].revoked_at == revoked_at
    assert _rows(migrated_url)["root"].revoked_at is None

    r = runner.invoke(app, ["keys", "list", "--database-url", migrated_url])
    alice_line = next(ln for ln in r.stdout.splitlines() if " alice " in ln)
    assert revoked_at.strftime("%Y-%m-%d %H:%M:%S") in alice_line


def test_revoke_unknown_key(migrated_url) -> None:
    """An unknown id or prefix: a clear message naming it, exit code 2, nothing revoked."""
    _create(migrated_url, "--name", "bob")
    for ref in ("999", "nosuchpf"):
        r = runner.invoke(app, ["keys", "revoke", ref, "--database-url", migrated_url])
        assert r.exit_code == 2
        assert f"no API key matches {ref!r}" in r.output
    assert _rows(migrated_url)["bob"].revoked_at is None


def test_revoke_by_full_key_and_empty_list(migrated_url) -> None:
    """The full key works as a reference (its prefix is used); an empty list says how to
    create a key."""
    r = runner.invoke(app, ["keys", "list", "--database-url", migrated_url])
    assert r.exit_code == 0 and "xbar keys create" in r.output
    key = _create(migrated_url, "carol")
    r = runner.invoke(app, ["keys", "revoke", key, "--database-url", migrated_url])
    assert r.exit_code == 0 and key not in r.output
    assert _rows(migrated_url)["carol"].revoked_at is not None


def test_unmigrated_database(tmp_path) -> None:
    """A database that is not at head: exit code 2 with the migration hint."""
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    r = runner.invoke(app, ["keys", "list", "--database-url", url])
    assert r.exit_code == 2 and "not migrated" in r.output


def test_0003_existing_keys_are_not_admin(db_url) -> None:
    """Keys stored before 0003 become plain (non-admin) keys; downgrading drops the column."""
    upgrade(db_url, "0002")
    engine = make_engine(db_url)
    _, prefix, key_hash = generate_key()
    keys = Table("api_keys", MetaData(), autoload_with=engine)
    with engine.begin() as conn:
        conn.execute(insert(keys), [{"name": "old", "prefix": prefix, "key_hash": key_hash,
                                     "created_at": utcnow()}])
    upgrade(db_url)
    assert {k.name: k.is_admin for k in _rows(db_url).values()} == {"old": False}
    command.downgrade(alembic_config(db_url), "0002")
    columns = {c.name for c in Table("api_keys", MetaData(), autoload_with=engine).columns}
    engine.dispose()
    assert "is_admin" not in columns and "revoked_at" in columns
