"""The suite runs in two processes (``make test``: pytest-xdist, ``--dist loadfile``), which
schedule tests by node id: two tests with one node id would run as one, silently. schemathesis
gives every operation of a schema's test its function's node id, so ``tests/e2e/test_fuzz_rest.py``
runs in a process of its own after the rest (the Makefile); this refuses any other such test."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    repeated = [nodeid for nodeid, n in Counter(ids).items() if n > 1]
    if repeated:
        raise pytest.UsageError(
            "tests sharing a node id would run once under pytest-xdist: "
            + ", ".join(repeated[:5])
            + " (run them outside it, as the Makefile runs tests/e2e/test_fuzz_rest.py)"
        )
