"""Call ids are each tenant's own, against a real server: two tenants run calls of the same id at
once, over REST and over the stream, each with its own events, state, report and listing; and
nothing a tenant can ask tells it whether an id is in use by another."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.e2e.client import ANSWERED, START, CallClient, agent, brief
from tests.e2e.conftest import KEY_A, KEY_B

_ids = itertools.count()
KEYS = {"a": KEY_A, "b": KEY_B}
#: What each tenant's agent says on its call of the shared id: only a's is forbidden.
SAID = {"a": "这个真不关我的事", "b": "上午好，中国移动，很高兴为您服务"}


def shared_id(kind: str) -> str:
    """An id no test used before (the session's server keeps every call)."""
    return f"{kind}-{next(_ids)}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def tenants(server: str) -> Iterator[dict[str, httpx.Client]]:
    clients = {
        tenant: httpx.Client(base_url=server, headers={"Authorization": f"Bearer {key}"})
        for tenant, key in KEYS.items()
    }
    try:
        yield clients
    finally:
        for client in clients.values():
            client.close()


def alerts_of(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The forbidden phrases among ``events`` (the greeting's alerts depend on the hour)."""
    return [
        (e["rule"], e["text"])
        for e in events
        if e["type"] == "alert" and e["category"] == "forbidden"
    ]


def test_two_tenants_run_calls_of_the_same_id_over_rest(
    server: str, tenants: dict[str, httpx.Client]
) -> None:
    call_id = shared_id("same")
    created = {
        tenant: http.post(
            "/v1/calls",
            json={"script": "cmcc-10086", "call_id": call_id, "agent": {"id": f"agent-{tenant}"}},
        )
        for tenant, http in tenants.items()
    }
    assert {t: r.status_code for t, r in created.items()} == {"a": 201, "b": 201}
    assert created["a"].json()["token"] != created["b"].json()["token"]
    # Both live at once; each tenant's input reaches its own call only.
    events = {}
    for tenant, http in tenants.items():
        http.post(f"/v1/calls/{call_id}/events", json={"name": "answered"})
        events[tenant] = http.post(
            f"/v1/calls/{call_id}/fragments",
            json={"speaker": "agent", "segment": "a-1", "text": SAID[tenant], "final": True},
        ).json()["events"]
    assert alerts_of(events["a"]) == [("forbidden.shirk", SAID["a"])]
    assert alerts_of(events["b"]) == []
    states = {t: http.get(f"/v1/calls/{call_id}").json() for t, http in tenants.items()}
    forbidden = {
        t: [a["rule"] for a in state["alerts"] if a["category"] == "forbidden"]
        for t, state in states.items()
    }
    assert forbidden == {"a": ["forbidden.shirk"], "b": []}
    # Each call's own token reaches that call only, whichever tenant's the path's id is too.
    for tenant in tenants:
        token = created[tenant].json()["token"]
        state = httpx.get(
            f"{server}/v1/calls/{call_id}", headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert state == states[tenant]
    # Listings: each its own call of that id, once.
    for tenant, http in tenants.items():
        listed = [c for c in http.get("/v1/calls", params={"limit": 1000}).json()["items"]]
        mine = [c for c in listed if c["call_id"] == call_id]
        assert [c["agent_id"] for c in mine] == [f"agent-{tenant}"]
    # a's call ends; b's goes on, and its report is its own when it ends too.
    tenants["a"].post(f"/v1/calls/{call_id}/events", json={"name": "hangup", "by": "customer"})
    assert tenants["b"].get(f"/v1/calls/{call_id}/report").json()["error"] == "call_in_progress"
    tenants["b"].post(f"/v1/calls/{call_id}/events", json={"name": "hangup", "by": "customer"})
    reports = {t: http.get(f"/v1/calls/{call_id}/report").json() for t, http in tenants.items()}
    assert [a["rule"] for a in reports["a"]["alerts"] if a["rule"].startswith("forbidden.")] == [
        "forbidden.shirk"
    ]
    assert not [a for a in reports["b"]["alerts"] if a["rule"].startswith("forbidden.")]
    assert reports["a"]["call_id"] == reports["b"]["call_id"] == call_id
    # A third call of that id for a tenant that has one is still a conflict: its own.
    again = tenants["a"].post("/v1/calls", json={"script": "cmcc-10086", "call_id": call_id})
    assert again.status_code == 409 and again.json()["error"] == "call_exists"


def test_two_tenants_start_calls_of_the_same_id_on_the_stream_at_once(server: str) -> None:
    call_id = shared_id("sock")
    with (
        CallClient(server, call_id, KEY_A) as a,
        CallClient(server, call_id, KEY_B) as b,
    ):
        clients = {"a": a, "b": b}
        # Interleaved: each start creates the tenant's own call; neither is told call_exists.
        for client in clients.values():
            client.send({**START, "seq": 1})
        for client in clients.values():
            client.send({**ANSWERED, "seq": 2})
        for tenant, client in clients.items():
            client.send({**agent("a-1", SAID[tenant], 2000), "seq": 3})
        events = {tenant: client.sync() for tenant, client in clients.items()}
        for tenant in clients:
            acks = [e["seq"] for e in events[tenant] if e["type"] == "ack"]
            published = [e["seq"] for e in events[tenant] if "at_ms" in e]
            assert acks == [1, 2, 3] and "error" not in {e["type"] for e in events[tenant]}
            assert published == list(range(1, len(published) + 1))  # each call's own seqs
        assert alerts_of(events["a"]) == [("forbidden.shirk", SAID["a"])]
        assert alerts_of(events["b"]) == []
        # A listener of each tenant resumes the whole history: its own call's, only.
        for tenant, key in KEYS.items():
            with CallClient(server, call_id, key) as listener:
                listener.send({"type": "resume", "last_event_seq": 0})
                history = listener.sync()
            own = [e for e in events[tenant] if e["type"] not in ("ack", "pong")]
            assert brief(history) == brief(own)
        a.send({"type": "event", "name": "hangup", "by": "customer"})
        ended = a.sync()
        assert ended[-1]["type"] == "report"
        # b's call goes on: a's end is no event of it.
        b.send(agent("a-2", "请问还有什么可以帮您", 5000))
        assert "report" not in {e["type"] for e in b.sync()}
        assert b.sync() == []


def test_another_tenants_id_on_the_stream_is_a_call_that_does_not_exist(
    server: str, http: httpx.Client
) -> None:
    """Tenant b asking for a's call on the stream gets what it gets for a guessed id: 4404
    with the same reason, never 4403; and its start makes a call of its own."""
    mine = http.post("/v1/calls", json={"script": "cmcc-10086", "call_id": shared_id("own")})
    call_id = mine.json()["call_id"]
    guessed = shared_id("guess")
    closes = {}
    for asked in (call_id, guessed):
        for first in ({"type": "ping"}, {"type": "resume", "last_event_seq": 0}):
            with CallClient(server, asked, KEY_B) as other:
                other.send(first)
                with pytest.raises(ConnectionClosed) as closed:
                    other.recv()
            assert closed.value.rcvd is not None
            closes[(asked == call_id, first["type"])] = (
                closed.value.rcvd.code,
                closed.value.rcvd.reason,
            )
    assert set(closes.values()) == {(4404, "unknown call: send start first")}
    # b's start on that id makes b's own call; a's is untouched.
    with CallClient(server, call_id, KEY_B) as other:
        made = other.play({**START, "seq": 1}, ANSWERED, agent("a-1", SAID["a"], 2000))
    # (acknowledged once its row is committed: the ack may follow the call's first events)
    assert "ack" in [e["type"] for e in made] and alerts_of(made)
    state = http.get(f"/v1/calls/{call_id}").json()
    assert state["phase"] == "ringing" and state["alerts"] == []
