"""Many rows written in one statement: the driver's inserts of new trials, results and events.

On SQLite a Core executemany is cheap: ``sqlite3`` loops over the rows in C. On PostgreSQL
psycopg sends an executemany row by row through its pipeline, in Python (about 0.05 ms of
client CPU per row); here the rows go instead as one JSON document, unpacked by the server
(``json_populate_recordset`` typed by the table's own row type), in one statement whose text
is the same for every batch (so psycopg prepares it once): about 0.02 ms per row, the
``json.dumps`` included. Both paths write the same rows: Python-side column defaults are
filled in here as Core fills them in, and rows get their serial ids in batch order (``WITH
ORDINALITY ... ORDER BY``). A batch JSON cannot carry (a NaN or infinite float, which Core
sends as a float parameter) goes through the executemany.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Table, TextClause, text
from sqlalchemy.orm import Session


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (column name -> value, the same keys in every row) into ``table`` in
    one statement, in order; columns left out take their defaults."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        doc = _document(table, rows)
        if doc is not None:
            session.execute(_recordset_insert(table, doc[0]), {"rows": doc[1]})
            return
    session.execute(table.insert(), rows)


def _document(table: Table, rows: list[dict[str, Any]]) -> tuple[tuple[str, ...], str] | None:
    """``(columns, JSON array of the rows)`` with the Python-side defaults of the columns the
    rows leave out filled in (once per batch); ``None`` when a value has no JSON form."""
    extra = {c.name: (c.default.arg(None) if c.default.is_callable else c.default.arg)
             for c in table.columns
             if c.default is not None and c.name not in rows[0]}
    full = [{**extra, **r} for r in rows] if extra else rows
    try:
        return tuple(full[0]), json.dumps(full, default=_timestamp, allow_nan=False)
    except ValueError:  # NaN or infinity: no JSON number
        return None


def _timestamp(value: Any) -> str:
    """A naive UTC ``datetime`` as PostgreSQL reads a ``timestamp`` (``json.dumps`` hook)."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    raise TypeError(f"no JSON form for {type(value).__name__}")


@cache
def _recordset_insert(table: Table, columns: tuple[str, ...]) -> TextClause:
    """``INSERT INTO table (columns) SELECT columns FROM json_populate_recordset(...)`` with
    one ``:rows`` parameter, the JSON array; ids follow the array's order."""
    cols = ", ".join(f'"{c}"' for c in columns)
    return text(
        f'INSERT INTO "{table.name}" ({cols}) SELECT {cols} FROM json_populate_recordset('
        f'NULL::"{table.name}", CAST(:rows AS json)) WITH ORDINALITY AS x ORDER BY ordinality')
