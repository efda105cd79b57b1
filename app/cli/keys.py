"""``xbar keys``: create, list and revoke API keys, straight in the database (XBAR_DATABASE_URL).

The raw key is printed once by ``create``; the database holds its public prefix and SHA-256
hash only, and ``list`` never prints the hash.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column, Table
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import Database
from app.core.security import KEY_PREFIX, generate_key, key_prefix
from app.migrate import is_up_to_date
from app.models import ApiKey, utcnow

app = typer.Typer(help="API keys (used when XBAR_AUTH=on).", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

DatabaseUrl = Annotated[str | None, typer.Option(help="Database (env XBAR_DATABASE_URL).")]


@contextmanager
def _session(database_url: str | None) -> Iterator[Session]:
    """A committing session on the configured database; exit code 2 when it is not migrated."""
    settings = Settings(**({"database_url": database_url} if database_url else {}))
    db = Database(settings.database_url)
    try:
        if not is_up_to_date(db.engine):
            err.print("[red]error:[/red] database not migrated; run `alembic upgrade head`")
            raise typer.Exit(2)
        with db.session() as s:
            yield s
    finally:
        db.dispose()


def _when(t: datetime | None) -> str:
    """A stored UTC timestamp to the second, or ``-``."""
    return t.strftime("%Y-%m-%d %H:%M:%S") if t else "-"


@app.command("create")
def create(
    name_arg: Annotated[str | None, typer.Argument(
        metavar="NAME", help="A label for the key.", show_default=False)] = None,
    name: Annotated[str | None, typer.Option(
        "--name", help="The label, as an option (same as NAME).")] = None,
    admin: Annotated[bool, typer.Option(
        help="An admin key sees and acts on every study, also those of revoked keys.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key and print it once (only its prefix and hash are stored)."""
    if name_arg and name and name_arg != name:
        err.print("[red]error:[/red] give the name once (NAME or --name)")
        raise typer.Exit(2)
    label = name_arg or name or "default"
    key, prefix, key_hash = generate_key()
    with _session(database_url) as s:
        s.add(ApiKey(name=label, prefix=prefix, key_hash=key_hash, is_admin=admin))
    kind = "admin API key" if admin else "API key"
    err.print(f"{kind} [bold]{label}[/bold] (prefix {prefix}) created; it is shown only once:")
    typer.echo(key)


@app.command("list")
def list_keys(database_url: DatabaseUrl = None) -> None:
    """List keys: id, name, prefix, admin, created and revoked times (UTC); never the hash."""
    with _session(database_url) as s:
        rows = [(k.id, k.name, k.prefix, k.is_admin, k.created_at, k.revoked_at)
                for k in s.scalars(select(ApiKey).order_by(ApiKey.id))]
    if not rows:
        err.print("no API keys; create one with `xbar keys create NAME`")
        return
    table = Table(Column("id", no_wrap=True), Column("name", overflow="fold"),
                  *(Column(h, no_wrap=True)
                    for h in ("prefix", "admin", "created (UTC)", "revoked (UTC)")))
    for key_id, name, prefix, admin, created, revoked in rows:
        table.add_row(str(key_id), name, prefix, "yes" if admin else "no", _when(created),
                      _when(revoked))
    out.print(table)


@app.command("revoke")
def revoke(
    key: Annotated[str, typer.Argument(
        metavar="ID_OR_PREFIX", help="The key's id or prefix (as `xbar keys list` shows; put "
        "`--` before a prefix that starts with '-').")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key: its next request gets 401. Revoking a revoked key changes nothing."""
    ref = key_prefix(key) if key.startswith(KEY_PREFIX) else key
    match = ApiKey.prefix == ref
    if ref.isdigit():
        match = or_(match, ApiKey.id == int(ref))
    with _session(database_url) as s:
        rows = list(s.scalars(select(ApiKey).where(match)))
        if len(rows) != 1:
            why = "no API key" if not rows else "more than one API key (an id and a prefix)"
            err.print(f"[red]error:[/red] {why} matches {ref!r}; see `xbar keys list`")
            raise typer.Exit(2)
        row = rows[0]
        if row.revoked_at is not None:
            err.print(f"key {row.id} ({row.name}, prefix {row.prefix}) was already revoked at "
                      f"{_when(row.revoked_at)} UTC")
            return
        row.revoked_at = utcnow()
        err.print(f"key {row.id} ({row.name}, prefix {row.prefix}) revoked")
