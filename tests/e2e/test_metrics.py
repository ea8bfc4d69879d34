"""/metrics of a real server, scraped while an ASR leg is connected: the series ops need by
script, rule and format (app/ops/metrics.py)."""

from __future__ import annotations

import itertools
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.asr.engines import stream
from tests.e2e.client import ANSWERED, START, CallClient
from tests.e2e.conftest import KEY_A

_ids = itertools.count()


def scrape(http: httpx.Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = http.get("/metrics")
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_the_series_by_script_rule_and_format(server: str, http: httpx.Client) -> None:
    call_id = f"metrics-{next(_ids)}"
    query = f"{KEY_A}&format=tencent&speaker=agent"
    before = scrape(http)
    with CallClient(server, call_id, query) as agent:
        for message in [{**START, "seq": 1}, ANSWERED, *stream("tencent", "agent_call")]:
            agent.send(message)
        agent.send({"code": 0, "result": {"slice_type": 9}})  # a decode error
        events = agent.sync()
        assert any(e["type"] == "alert" for e in events)
        rest = http.post(
            f"/v1/calls/{call_id}/fragments",
            json={"speaker": "customer", "segment": "c1", "text": "我想查话费", "final": True},
        )
        assert rest.status_code == 200
        after = scrape(http)  # the leg still connected, the call live

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    script = {"script": "cmcc-10086"}
    assert grew("huashu_calls_started_total", **script) == 1
    assert value(after, "huashu_calls_active", **script) >= 1
    assert value(after, "huashu_stream_connections", format="tencent") >= 1
    # 0-1-2, 0-2 (a repeated 2 and a late 1 dropped), a lone 2: six fragments reach the call.
    assert grew("huashu_fragments_total", format="tencent", **script) == 6
    assert grew("huashu_fragments_total", format="rest", **script) == 1
    shirk = {"category": "forbidden", "rule": "forbidden.shirk", **script}
    assert grew("huashu_alerts_total", **shirk) == 1
    assert grew("huashu_alert_latency_seconds_count", format="tencent") == 1
    assert value(after, "huashu_alert_latency_seconds_bucket", format="tencent", le="1.0") >= 1
    assert grew("huashu_decode_errors_total", format="tencent", code="invalid_message") == 1
    assert grew("huashu_store_write_seconds_count") >= 2  # the start's ack and the ping's pong
    assert value(after, "huashu_gc_pause_seconds_count", generation="0") > 0

    # The leg closed: its connection leaves the gauge (once the server has seen it go).
    open_before = value(before, "huashu_stream_connections", format="tencent")
    deadline = time.monotonic() + 5
    while value(scrape(http), "huashu_stream_connections", format="tencent") != open_before:
        assert time.monotonic() < deadline, "the closed leg is still counted"
        time.sleep(0.05)
