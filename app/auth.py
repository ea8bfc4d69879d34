"""Identity, decided once: who is asking (a :class:`Principal`) and what they may see.

A request's ``Authorization: Bearer <credential>`` and a socket handshake's ``?token=<credential>``
are both turned into a principal by :meth:`Identity.authenticate`; :meth:`Identity.call_key`
says which call a path's call id names for that principal, if it may ask for it at all. Both
raise the service's errors (:class:`Unauthorized`, :class:`Forbidden`): HTTP maps them to
401/403 (``app.main``), the socket to 4401/4403 (``app.calls.socket``).

Call ids are each tenant's own: a principal names only its own tenant's calls, so another
tenant's call is no call to it (404, 4404), whether or not an id like it exists elsewhere.

Credentials (PROTOCOL, Auth): a tenant's API key (``HUASHU_API_KEYS``, parsed once at start-up),
or a call's own token (from ``POST /v1/calls``), good for that call only. With no keys configured
the service is open and every request is the open principal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.calls.repository import CallKey, CallRepository
from app.errors import Forbidden, Unauthorized


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking. ``tenant`` None is the open service (no keys configured); ``call_id`` is
    set for a call token, which may see that call only."""

    tenant: str | None
    call_id: str | None = None

    @property
    def is_call_token(self) -> bool:
        return self.call_id is not None


OPEN = Principal(tenant=None)


class Identity:
    def __init__(self, tenants_by_key: Mapping[str, str], calls: CallRepository) -> None:
        self._keys = dict(tenants_by_key)
        self._calls = calls

    @property
    def open(self) -> bool:
        """No keys are configured: everyone is the open principal."""
        return not self._keys

    async def authenticate(self, credential: str | None, *, call_tokens: bool) -> Principal:
        """The principal of ``credential``: a tenant's API key, or (where ``call_tokens``) a
        call's token. Raises :class:`Unauthorized` for none or an unknown one."""
        if self.open:
            return OPEN
        if credential:
            tenant = self._keys.get(credential)
            if tenant is not None:
                return Principal(tenant)
            if call_tokens:
                record = await self._calls.by_token(credential)
                if record is not None:
                    return Principal(record.tenant, record.call_id)
        if call_tokens:
            raise Unauthorized(
                "an API key or the call's token is needed: Authorization: Bearer <key>",
                code="unauthorized",
            )
        raise Unauthorized("an API key is needed: Authorization: Bearer <key>", code="unauthorized")

    def call_key(self, principal: Principal, call_id: str) -> CallKey:
        """The call ``call_id`` names for ``principal``: its tenant's call of that id (which
        may not exist: that is the caller's to refuse, or to create). Raises
        :class:`Forbidden` for a call token of another call, without looking the call up."""
        if principal.call_id is not None and principal.call_id != call_id:
            raise Forbidden("this token is for another call", code="forbidden")
        return CallKey(principal.tenant, call_id)


def bearer(authorization: str) -> str | None:
    """The credential of an ``Authorization: Bearer <credential>`` header, if any."""
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credential.strip() or None
