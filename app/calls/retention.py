"""Customers' words are kept no longer than ``HUASHU_RETENTION_DAYS``: a background task deletes
the ended calls older than that, at start-up and then every :data:`EVERY_S` seconds."""

from __future__ import annotations

import asyncio
import logging
import time

from app.calls.repository import CallRepository

log = logging.getLogger(__name__)

#: How often expired calls are looked for.
EVERY_S = 3600.0
DAY_MS = 86_400_000


async def purge_once(repository: CallRepository, days: int, now_ms: int | None = None) -> int:
    """Delete the ended calls that began more than ``days`` days before ``now_ms``."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    deleted = await repository.purge(now - days * DAY_MS)
    if deleted:
        log.info("retention: %d ended calls older than %d days deleted", deleted, days)
    return deleted


async def keep_purging(repository: CallRepository, days: int, every_s: float = EVERY_S) -> None:
    """Run :func:`purge_once` now and every ``every_s`` seconds, until cancelled. A failure is
    logged and tried again next time (the service goes on)."""
    while True:
        try:
            await purge_once(repository, days)
        except Exception:  # noqa: BLE001 - the next round tries again
            log.exception("retention: the purge failed")
        await asyncio.sleep(every_s)
