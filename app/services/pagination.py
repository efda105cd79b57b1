"""Opaque cursors over an increasing integer key (stable while rows are appended)."""

from __future__ import annotations

import base64

from app.core.errors import ValidationFailed


def encode_cursor(last_key: int) -> str:
    return base64.urlsafe_b64encode(f"k:{last_key}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """Raises:
        ValidationFailed: the cursor was not produced by :func:`encode_cursor`.
    """
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, value = raw.split(":", 1)
        if kind != "k":
            raise ValueError(kind)
        return int(value)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValidationFailed(
            "cursor is not valid; pass the next_cursor of a previous page",
            errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor", "type": "value_error"}],
        ) from e
