"""Identity, decided once: credentials to principals, and who may see which call. The HTTP and
socket mappings of the same errors are tested end to end (tests/e2e)."""

from __future__ import annotations

import asyncio

import pytest

from app.auth import OPEN, Identity, Principal, bearer
from app.calls.repository import CallKey, CallRecord, MemoryCallRepository
from app.errors import Forbidden, HuashuError, Unauthorized

KEYS = {"key-a": "tenant-a", "key-b": "tenant-b"}


def record(call_id: str, tenant: str | None) -> CallRecord:
    return CallRecord(call_id, tenant, f"tok-{call_id}", "s", 1, None, 0, "consult", "ringing")


def identity(keys: dict[str, str] = KEYS) -> Identity:
    calls = MemoryCallRepository()
    asyncio.run(calls.add(record("c-a", "tenant-a")))
    return Identity(keys, calls)


AUTHENTICATE = [
    # credential, call tokens accepted, principal or error
    ("key-a", True, Principal("tenant-a")),
    ("key-b", False, Principal("tenant-b")),
    ("tok-c-a", True, Principal("tenant-a", "c-a")),
    ("tok-c-a", False, Unauthorized),  # a call token is no API key
    ("nope", True, Unauthorized),
    ("", True, Unauthorized),
    (None, False, Unauthorized),
    ("KEY-A", True, Unauthorized),
]


@pytest.mark.parametrize(("credential", "call_tokens", "expected"), AUTHENTICATE)
def test_authenticate(
    credential: str | None, call_tokens: bool, expected: Principal | type[HuashuError]
) -> None:
    who = identity()

    async def main() -> Principal:
        return await who.authenticate(credential, call_tokens=call_tokens)

    if isinstance(expected, Principal):
        assert asyncio.run(main()) == expected
    else:
        with pytest.raises(expected) as refused:
            asyncio.run(main())
        assert refused.value.status == 401


@pytest.mark.parametrize("credential", [None, "", "anything", "tok-c-a"])
def test_with_no_keys_everyone_is_the_open_principal(credential: str | None) -> None:
    who = identity({})
    assert who.open
    assert asyncio.run(who.authenticate(credential, call_tokens=True)) == OPEN


CALL_KEY = [
    # principal, call id in the path, the call it names or the error
    (Principal("tenant-a"), "c-1", CallKey("tenant-a", "c-1")),
    (Principal("tenant-b"), "c-1", CallKey("tenant-b", "c-1")),  # b's own c-1, never a's
    (Principal("tenant-a", "c-1"), "c-1", CallKey("tenant-a", "c-1")),
    (Principal("tenant-a", "c-1"), "c-2", Forbidden),  # a token is for its call only
    (OPEN, "c-1", CallKey(None, "c-1")),
]


@pytest.mark.parametrize(("principal", "call_id", "expected"), CALL_KEY)
def test_a_principal_names_its_own_tenants_calls_only(
    principal: Principal, call_id: str, expected: CallKey | type[HuashuError]
) -> None:
    if isinstance(expected, CallKey):
        assert identity().call_key(principal, call_id) == expected
        return
    with pytest.raises(expected) as refused:
        identity().call_key(principal, call_id)
    assert refused.value.status == 403


@pytest.mark.parametrize(
    ("header", "credential"),
    [
        ("Bearer key-a", "key-a"),
        ("bearer  key-a ", "key-a"),
        ("Basic key-a", None),
        ("Bearer ", None),
        ("", None),
        ("key-a", None),
    ],
)
def test_bearer(header: str, credential: str | None) -> None:
    assert bearer(header) == credential
