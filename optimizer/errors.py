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


class MethodOptionsError(OptimizerError):
    """A method's options are invalid: unknown names or out-of-range values.

    Attributes:
        method: The method name the options were given for.
        errors: Every problem found, as ``(option name, message)`` pairs in option order
            (unknown names last); the exception text joins the messages.
    """

    def __init__(self, method: str, errors: list[tuple[str, str]]) -> None:
        self.method = method
        self.errors = list(errors)
        super().__init__(f"{method}: " + "; ".join(msg for _, msg in self.errors) + ".")
