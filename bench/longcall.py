"""One long call: the server's RSS as a single call goes on for ``fragments`` fragments (agent
partials and finals, customer finals, a forbidden phrase now and then), with each store.

What a long call may keep: with a database, a window of its events (``HUASHU_EVENT_WINDOW``),
of its transcript (``HUASHU_TRANSCRIPT_WINDOW``) and of its alerts (``HUASHU_ALERT_WINDOW``),
so its memory is flat; with the in-memory store, everything (it is the only copy).
"""

from __future__ import annotations

import json
from typing import Any

from websockets.sync.client import connect

from bench.load import STORES, Server

PHRASES = ["您好请问有什么可以帮您", "这个不关我的事", "我帮您查一下您的套餐", "好的请您稍等"]


def _messages(n: int) -> list[dict[str, Any]]:
    return [
        {
            "type": "start",
            "script": "cmcc-10086",
            "call_type": "consult",
            "agent": {"id": "A1", "work_no": "1001"},
        },
        {"type": "event", "name": "answered"},
        *(_fragment(k) for k in range(n)),
    ]


def _fragment(k: int) -> dict[str, Any]:
    """Every fourth fragment a customer's final; the agent's in between, a partial then two
    growing ones, the last final."""
    turn, step = divmod(k, 4)
    if step == 3:
        return {
            "type": "fragment",
            "speaker": "customer",
            "segment": f"c{turn}",
            "text": "我想问一下我的话费",
            "final": True,
        }
    text = PHRASES[turn % len(PHRASES)]
    cut = len(text) * (step + 1) // 3
    return {
        "type": "fragment",
        "speaker": "agent",
        "segment": f"a{turn}",
        "text": text[:cut],
        "final": step == 2,
    }


def run_longcall(fragments: int, checkpoints: int = 5) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, store in STORES.items():
        with Server("app.main:app", store) as server:
            url = f"ws://127.0.0.1:{server.port}/v1/calls/long-1/stream"
            rss = [(0, round(server.rss_bytes() / 2**20, 1))]
            messages = _messages(fragments)
            every = max(fragments // (checkpoints - 1), 1)
            with connect(url, max_size=None) as ws:
                for k, message in enumerate(messages):
                    ws.send(json.dumps(message, ensure_ascii=False))
                    done = k - 1  # fragments sent (after start and answered)
                    if done > 0 and done % every == 0 or k == len(messages) - 1:
                        ws.send('{"type":"ping"}')
                        while json.loads(ws.recv()).get("type") != "pong":
                            pass
                        rss.append(
                            (
                                max(done, 0) + (k == len(messages) - 1),
                                round(server.rss_bytes() / 2**20, 1),
                            )
                        )
            grown = rss[-1][1] - rss[1][1]
            out[name] = {
                "rss_mb_by_fragments": rss,
                "kb_per_1000_fragments_after_the_first_checkpoint": round(
                    grown * 1024 / max((rss[-1][0] - rss[1][0]) / 1000, 1e-9), 1
                ),
            }
    return out
