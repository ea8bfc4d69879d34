"""The calls live on this instance: their runners, by call id.

A call is here from its creation to its end; then its runner is let go (connections still
following it keep it until they close) and its record holds what is left of it.
"""

from __future__ import annotations

from app.calls.runner import CallRunner


class LiveCalls:
    def __init__(self) -> None:
        self._runners: dict[str, CallRunner] = {}

    def add(self, runner: CallRunner) -> None:
        self._runners[runner.call_id] = runner

    def get(self, call_id: str) -> CallRunner | None:
        return self._runners.get(call_id)

    def remove(self, call_id: str) -> None:
        self._runners.pop(call_id, None)

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
