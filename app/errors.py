"""One error tree for the whole service.

A :class:`HuashuError` carries a stable ``code`` (sent to clients), a human ``detail`` and the
HTTP status it maps to. The REST layer turns it into ``{"error": code, "detail": ...}``; the
WebSocket turns it into an ``error`` event (or a close code for the auth errors).
"""

from __future__ import annotations


class HuashuError(Exception):
    code = "error"
    status = 400

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class InvalidMessage(HuashuError):
    code = "invalid_message"
    status = 422


class TooLarge(HuashuError):
    code = "too_large"
    status = 413


class CallStateError(HuashuError):
    """The input does not fit the call as it stands (segment already final, call ended …)."""

    code = "invalid_state"
    status = 409


class NotFound(HuashuError):
    code = "not_found"
    status = 404


class Conflict(HuashuError):
    code = "conflict"
    status = 409


class Unauthorized(HuashuError):
    code = "unauthorized"
    status = 401


class Forbidden(HuashuError):
    code = "forbidden"
    status = 403


class StoreBehind(HuashuError):
    """Too many writes wait for the database (``HUASHU_MAX_UNSTORED_WRITES``): the input is
    not taken; send it again once the store has caught up."""

    code = "store_unavailable"
    status = 503
    #: What the client is told.
    DETAIL = "the store is behind (the database is down or slow): not processed; send it again"

    def __init__(self, detail: str = DETAIL, *, code: str | None = None) -> None:
        super().__init__(detail, code=code)


class InternalError(HuashuError):
    """The service failed on an input it accepted (a bug); the call goes on with the next one."""

    code = "internal_error"
    status = 500
