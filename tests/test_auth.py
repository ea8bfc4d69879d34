"""Identity, decided once: credentials to principals, and who may see which call. The HTTP and
socket mappings of the same errors are tested end to end (tests/e2e)."""

from __future__ import annotations

import asyncio

import pytest

from app.auth import OPEN, Identity, Principal, bearer
from app.calls.repository import CallRecord, MemoryCallRepository
from app.errors import Forbidden, HuashuError, NotFound, OtherTenant, Unauthorized

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


CHECK_CALL = [
    # principal, call id, its record's tenant (None: no such call yet), error
    (Principal("tenant-a"), "c-1", "tenant-a", None),
    (Principal("tenant-a"), "c-1", None, None),  # may create it
    (Principal("tenant-b"), "c-1", "tenant-a", OtherTenant),
    (Principal("tenant-a", "c-1"), "c-1", "tenant-a", None),
    (Principal("tenant-a", "c-1"), "c-2", "tenant-a", Forbidden),
    (Principal("tenant-a", "c-1"), "c-2", None, Forbidden),
    (OPEN, "c-1", "tenant-a", None),
]


@pytest.mark.parametrize(("principal", "call_id", "tenant", "error"), CHECK_CALL)
def test_check_call(
    principal: Principal, call_id: str, tenant: str | None, error: type[HuashuError] | None
) -> None:
    existing = None if tenant is None else record(call_id, tenant)
    if error is None:
        identity().check_call(principal, call_id, existing)
        return
    with pytest.raises(error):
        identity().check_call(principal, call_id, existing)


def test_another_tenants_call_is_a_404_that_does_not_say_whose_it_is() -> None:
    with pytest.raises(OtherTenant) as refused:
        identity().check_call(Principal("tenant-b"), "c-1", record("c-1", "tenant-a"))
    assert isinstance(refused.value, NotFound) and refused.value.status == 404
    assert "tenant" not in refused.value.detail


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
