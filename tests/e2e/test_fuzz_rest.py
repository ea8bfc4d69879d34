"""schemathesis over the OpenAPI document of a real server, with an API key and without: every
check it has — no 5xx, no answer that breaks the document, no status or header it does not
list — but one: ``positive_data_acceptance`` (a request valid by the document must be
accepted). The service refuses, by design and naming the field, what JSON Schema cannot say: a
time more than ``HUASHU_TIME_WINDOW_DAYS`` from now, a ``cursor`` it did not mint, a script or
lexicon document that does not validate or names another id than its path.

The server is one of its own (a fresh database), so what the fuzzer creates stays there. The
examples per operation are bounded (``MAX_EXAMPLES``) to keep the suite's time.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.main import create_app
from tests.e2e.conftest import KEY_A, Server

#: Generated cases per operation and key: enough to walk every field's edge, within seconds.
MAX_EXAMPLES = 25
#: The one check left out (see the module's docstring).
EXCLUDED = [positive_data_acceptance]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("fuzz") / "server.log")
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


#: The document the server serves (the same app, built here without serving it); every case is
#: sent to the real server.
schema = schemathesis.openapi.from_dict(create_app().openapi())


FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


@schema.parametrize()
@FUZZ
def test_the_api_keeps_its_document_with_a_key(case: schemathesis.Case, fuzzed: Server) -> None:
    case.call_and_validate(
        base_url=fuzzed.base,
        headers={"Authorization": f"Bearer {KEY_A}"},
        excluded_checks=EXCLUDED,
    )


@schema.parametrize()
@FUZZ
def test_the_api_keeps_its_document_without_one(case: schemathesis.Case, fuzzed: Server) -> None:
    case.call_and_validate(base_url=fuzzed.base, excluded_checks=EXCLUDED)
