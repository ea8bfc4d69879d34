"""The suite runs in two processes (``make test``: pytest-xdist, ``--dist loadfile``), which
schedule tests by node id: two tests with one node id would run as one, silently. schemathesis
gives every operation of a schema's test its function's node id, so ``tests/e2e/test_fuzz_rest.py``
runs in a process of its own after the rest (the Makefile); this refuses any other such test.

Each test process reads the dictionaries' tables from the cache the servers the tests start use
(``./data/cache``, ``app/engine/tables.py``), as ``huashu serve`` does."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from app.engine import tables as table_cache

#: ``HUASHU_CACHE_DIR``'s default in the servers the tests start (their working directory is the
#: repository's root).
CACHE = Path(__file__).resolve().parents[1] / "data" / "cache"
table_cache.use_directory(CACHE)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    repeated = [nodeid for nodeid, n in Counter(ids).items() if n > 1]
    if repeated:
        raise pytest.UsageError(
            "tests sharing a node id would run once under pytest-xdist: "
            + ", ".join(repeated[:5])
            + " (run them outside it, as the Makefile runs tests/e2e/test_fuzz_rest.py)"
        )
