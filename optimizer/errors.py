"""Errors raised by the optimizer package.

Every error is a ``ValueError`` subclass so that callers validating user input can catch one
type; the message is a full sentence naming the offending field.
"""

from __future__ import annotations


class OptimizerError(ValueError):
    """Base class of the optimizer's input errors."""


class SearchSpaceError(OptimizerError):
    """A search-space spec or a parameter assignment is invalid; the message names the field."""


class UnknownMethodError(OptimizerError):
    """``suggest()`` was asked for a method that is not registered."""


class InfeasibleSpaceError(SearchSpaceError):
    """Rejection sampling found no point satisfying the linear constraints."""


class ObservationError(OptimizerError):
    """An observation or pending suggestion does not fit the space or the objectives."""
