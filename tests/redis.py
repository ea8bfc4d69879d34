"""The machine's real Redis for the tests (``HUASHU_TEST_REDIS_URL``, default 127.0.0.1:6379
database 0): each test keeps its keys under a prefix of its own, so runs never meet. The Redis
tests fail, not skip, when it cannot be reached: `.ci/run` starts it."""

from __future__ import annotations

import os
import uuid

REDIS = os.environ.get("HUASHU_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def prefix() -> str:
    """Keys of one test's own."""
    return f"huashu-test:{uuid.uuid4().hex[:10]}:"
