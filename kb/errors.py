"""Errors raised by operations; views turn them into messages and status codes."""

from __future__ import annotations


class OperationError(Exception):
    """Base class: an operation refused to act; nothing was written."""

    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(OperationError):
    """The input is not acceptable; `field` names the form field at fault."""

    status = 400


class PermissionDenied(OperationError):
    """The acting user may not do this."""

    status = 403


class NotFound(OperationError):
    """The thing does not exist (or is hidden from this user)."""

    status = 404


class Conflict(OperationError):
    """The request conflicts with the current state."""

    status = 409
