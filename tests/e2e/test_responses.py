"""What the REST API sends is what its OpenAPI document says: every response of a whole call and of
the script library, errors included, validates against the model its route documents."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from app import responses
from app.main import create_app
from tests.e2e.conftest import KEY_A

_ids = itertools.count()


def _documented() -> list[tuple[str, re.Pattern[str], dict[int, type[BaseModel]]]]:
    """(method, path pattern, model by status) from the app's own OpenAPI document."""
    out = []
    for path, operations in create_app().openapi()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
        for method, operation in operations.items():
            models = {}
            for status, response in operation["responses"].items():
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                if "$ref" in schema:
                    models[int(status)] = getattr(responses, schema["$ref"].rsplit("/", 1)[1])
            out.append((method.upper(), pattern, models))
    return out


DOCUMENTED = _documented()


class Checked:
    """Every response, validated against its route's documented model for its status."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str, int]] = set()

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        for method, pattern, models in DOCUMENTED:
            if request.method == method and pattern.match(request.url.path):
                model = models.get(response.status_code)
                assert model is not None, (
                    f"{method} {pattern.pattern} answered {response.status_code}, "
                    f"which it does not document: {response.text}"
                )
                model.model_validate(response.json())
                self.seen.add((method, pattern.pattern, response.status_code))
                return
        raise AssertionError(f"no route documents {request.method} {request.url.path}")


@pytest.fixture
def checked(server: str) -> Iterator[tuple[httpx.Client, Checked]]:
    check = Checked()
    with httpx.Client(
        base_url=server,
        headers={"Authorization": f"Bearer {KEY_A}"},
        event_hooks={"response": [check]},
        timeout=10,
    ) as client:
        yield client, check


def test_every_response_is_what_the_document_says(
    checked: tuple[httpx.Client, Checked],
) -> None:
    http, check = checked
    call_id = f"doc-{next(_ids)}"
    start: dict[str, Any] = {
        "call_id": call_id,
        "script": "cmcc-10086",
        "agent": {"id": "A-doc", "work_no": "0007"},
        "customer": {"title": "李女士"},
        "ring_at": "2026-11-22T16:00:00+08:00",
    }
    assert http.post("/v1/calls", json=start).status_code == 201
    assert http.post("/v1/calls", json=start).status_code == 409
    events = f"/v1/calls/{call_id}/events"
    fragments = f"/v1/calls/{call_id}/fragments"
    http.post(events, json={"name": "answered", "at": "2026-11-22T16:00:05+08:00"})
    said = {"speaker": "agent", "final": True}
    http.post(fragments, json={**said, "segment": "a1", "text": "下午好,中国移动,很高兴为您服务"})
    http.post(fragments, json={**said, "segment": "a2", "text": "这个我不知到", "final": False})
    http.post(fragments, json={**said, "segment": "a2", "text": "这个我不知到啊"})
    http.post(fragments, json={**said, "segment": "a2b", "text": "那真不关我的 事"})
    http.post(
        fragments, json={"speaker": "customer", "segment": "c1", "text": "我要投诉", "final": True}
    )
    http.post(fragments, json={**said, "segment": "a3", "text": "什么?"})
    assert http.get(f"/v1/calls/{call_id}/report").status_code == 409
    http.get(f"/v1/calls/{call_id}")
    http.post(events, json={"name": "hangup", "by": "agent"})
    assert http.post(fragments, json={**said, "segment": "a4", "text": "喂"}).status_code == 409
    report = http.get(f"/v1/calls/{call_id}/report").json()
    assert {a["match"] for a in report["alerts"]} >= {"normalized", "pattern", "rule"}
    http.get("/v1/calls", params={"has_alerts": True})
    assert http.get("/v1/calls/none-such").status_code == 404
    assert (
        http.post(fragments, json={**said, "segment": "x", "text": "x" * 5000}).status_code == 413
    )
    assert http.post(events, json={"name": "boom"}).status_code == 422
    http.get("/v1/scripts")
    for script in ("cmcc-10086", "cmcc-12580", "ct-10000"):
        http.get(f"/v1/scripts/{script}")
    http.post("/v1/scripts/cmcc-10086/check", json={"text": "你问我我问谁", "speaker": "agent"})
    assert http.get("/v1/scripts/nope").status_code == 404
    http.get("/healthz")
    http.get("/readyz")
    assert len(check.seen) >= 18


def test_unauthorized_is_documented(server: str) -> None:
    check = Checked()
    with httpx.Client(base_url=server, event_hooks={"response": [check]}) as http:
        assert http.get("/v1/calls").status_code == 401
        assert http.get("/v1/scripts").status_code == 401


def test_the_document_names_a_model_for_every_json_answer(server: str) -> None:
    document = httpx.get(f"{server}/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                for media, content in response.get("content", {}).items():
                    if media == "application/json":
                        schema = content["schema"]
                        assert "$ref" in schema and "type" not in schema, (method, path, status)
