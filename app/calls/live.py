"""The calls live on this instance: their runners, by call id.

A call is here from its creation to its end; then its runner is let go (connections still
following it keep it until they close) and its record holds what is left of it.
"""

from __future__ import annotations

from collections import Counter

from app.calls.runner import CallRunner


class LiveCalls:
    def __init__(self) -> None:
        self._runners: dict[str, CallRunner] = {}
        self._tenants: dict[str, str | None] = {}
        self._per_tenant: Counter[str | None] = Counter()

    def add(self, runner: CallRunner, tenant: str | None = None) -> None:
        if runner.call_id in self._runners:
            self.remove(runner.call_id)
        self._runners[runner.call_id] = runner
        self._tenants[runner.call_id] = tenant
        self._per_tenant[tenant] += 1

    def get(self, call_id: str) -> CallRunner | None:
        return self._runners.get(call_id)

    def count(self, tenant: str | None) -> int:
        """How many calls of ``tenant`` are live here."""
        return self._per_tenant[tenant]

    def remove(self, call_id: str) -> None:
        if self._runners.pop(call_id, None) is not None:
            tenant = self._tenants.pop(call_id)
            self._per_tenant[tenant] -= 1
            if self._per_tenant[tenant] <= 0:
                del self._per_tenant[tenant]

    def __len__(self) -> int:
        return len(self._runners)

    def runners(self) -> list[CallRunner]:
        """Every live runner (a copy: cutting one off removes it)."""
        return list(self._runners.values())

    async def close(self) -> None:
        """Stop every live call's timer (the instance is going away)."""
        for runner in list(self._runners.values()):
            await runner.close()
        self._runners.clear()
        self._tenants.clear()
        self._per_tenant.clear()
