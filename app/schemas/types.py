"""Field types shared by the response schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainSerializer


def utc_iso(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix, e.g. ``2024-05-01T12:00:00.123456Z``.

    Columns store naive UTC (``models.utcnow``), so a naive value is taken as UTC; an aware one
    is converted.
    """
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat() + "Z"


UtcDatetime = Annotated[datetime, PlainSerializer(utc_iso, return_type=str, when_used="json")]
"""A datetime the API returns as ISO 8601 UTC with a ``Z`` suffix (Python mode keeps the
``datetime``)."""
