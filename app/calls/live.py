"""The calls live on this instance: their runners, by call key (tenant and call id).

A call is here from its creation to its end; then its runner is let go (connections still
following it keep it until they close) and its record holds what is left of it.
"""

from __future__ import annotations

from collections import Counter

from app.calls.repository import CallKey
from app.calls.runner import CallRunner


class LiveCalls:
    def __init__(self) -> None:
        self._runners: dict[CallKey, CallRunner] = {}
        self._per_tenant: Counter[str | None] = Counter()

    def add(self, runner: CallRunner) -> None:
        key = runner.key
        if key in self._runners:
            self.remove(key)
        self._runners[key] = runner
        self._per_tenant[key.tenant] += 1

    def get(self, key: CallKey) -> CallRunner | None:
        return self._runners.get(key)

    def count(self, tenant: str | None) -> int:
        """How many calls of ``tenant`` are live here."""
        return self._per_tenant[tenant]

    def remove(self, key: CallKey) -> None:
        if self._runners.pop(key, None) is not None:
            self._per_tenant[key.tenant] -= 1
            if self._per_tenant[key.tenant] <= 0:
                del self._per_tenant[key.tenant]

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
        self._per_tenant.clear()
