"""Append study events (the feed behind Server-Sent Events)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.models import Event


def emit(session: Session, study_id: int, type_: str, payload: dict[str, Any]) -> None:
    """Queue an event in the caller's transaction (it commits with the change it describes)."""
    session.add(Event(study_id=study_id, type=type_, payload=payload))
