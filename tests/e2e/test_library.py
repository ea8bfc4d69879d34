"""The script library over REST on a server of its own: versions, tenants' own lexicons, a call
that straddles a PUT, dry runs, and every refusal naming its field."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.client import ANSWERED, START, CallClient, agent
from tests.e2e.conftest import KEY_A, KEY_B, Server

_ids = itertools.count()
OWN_PHRASE = "自己去看说明书"
OWN_LEXICON = {
    "id": "acme",
    "name": "ACME 自己的禁语",
    "categories": {"acme_curt": {"name": "生硬", "severity": "major"}},
    "entries": [{"phrase": OWN_PHRASE, "category": "acme_curt", "source": "ACME 服务规范 2026"}],
}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    running = Server(tmp_path_factory.mktemp("library") / "server.log")
    try:
        running.wait_ready()
        yield running.base
    finally:
        running.stop()


def client(base: str, key: str = KEY_A) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10)


def alerts_on(base: str, key: str, text: str) -> list[str]:
    """The rules a new call of this tenant alerts on when the agent says ``text``."""
    with CallClient(base, f"lib-{next(_ids)}", key) as call:
        call.play(START, ANSWERED)
        events = call.play(agent("a1", text, 3000))
    return [e["rule"] for e in events if e["type"] == "alert"]


def script_document(http: httpx.Client, script_id: str = "cmcc-10086") -> dict[str, Any]:
    body = http.get(f"/v1/scripts/{script_id}").json()
    return {k: v for k, v in body.items() if k not in ("lexicon_summary", "lexicon_summaries")}


def test_a_tenants_own_lexicon_alerts_on_its_live_calls_without_a_restart(base: str) -> None:
    with client(base) as http:
        assert alerts_on(base, KEY_A, OWN_PHRASE) == []
        stored = http.put("/v1/lexicons/acme", json=OWN_LEXICON)
        assert stored.status_code == 200 and stored.json() == {"id": "acme", "version": 1}
        script = script_document(http)
        stored = http.put("/v1/scripts/cmcc-10086", json={**script, "lexicons": ["acme"]})
        assert stored.status_code == 200, stored.text
        assert stored.json()["version"] == script["version"] + 1
        assert alerts_on(base, KEY_A, OWN_PHRASE) == ["forbidden.acme_curt"]
        assert alerts_on(base, KEY_A, "这个不关我的事") == ["forbidden.shirk"]  # the norms too
        listed = {s["id"]: s for s in http.get("/v1/scripts").json()["items"]}
        assert listed["cmcc-10086"]["lexicons"] == ["forbidden", "acme"]
        assert listed["cmcc-10086"]["shared"] is False and listed["ct-10000"]["shared"] is True
    # Another tenant sees none of it.
    with client(base, KEY_B) as other:
        assert alerts_on(base, KEY_B, OWN_PHRASE) == []
        assert other.get("/v1/lexicons/acme").status_code == 404
        assert other.get("/v1/scripts/cmcc-10086").json()["lexicons"] == []
        assert "acme" not in [x["id"] for x in other.get("/v1/lexicons").json()["items"]]


def test_a_call_keeps_the_versions_it_started_with(base: str) -> None:
    with client(base, KEY_B) as http:
        lexicon = http.get("/v1/lexicons/forbidden").json()
        old_version = lexicon["version"]
        with CallClient(base, f"straddle-{next(_ids)}", KEY_B) as before:
            before.play(START, ANSWERED)
            grown = {**lexicon, "entries": [*lexicon["entries"], OWN_LEXICON["entries"][0]]}
            grown["categories"] = {**lexicon["categories"], **OWN_LEXICON["categories"]}
            stored = http.put("/v1/lexicons/forbidden", json=grown)
            assert stored.status_code == 200, stored.text
            # The call in progress keeps its lexicon; a call begun after gets the new one.
            said = before.play(agent("a1", OWN_PHRASE, 3000))
            assert [e for e in said if e["type"] == "alert"] == []
        assert alerts_on(base, KEY_B, OWN_PHRASE) == ["forbidden.acme_curt"]
        # Every version stays readable.
        old = http.get("/v1/lexicons/forbidden", params={"version": old_version}).json()
        new = http.get("/v1/lexicons/forbidden").json()
        assert (old["version"], len(old["entries"])) == (old_version, len(lexicon["entries"]))
        assert (new["version"], len(new["entries"])) == (
            stored.json()["version"],
            len(grown["entries"]),
        )
    # tenant-a's view of the shared lexicon is unchanged: tenant-b's PUT made its own.
    with client(base) as http:
        assert http.get("/v1/lexicons/forbidden").json()["version"] == old_version


def test_a_lexicon_dry_run_says_which_entries_fire_and_where(base: str) -> None:
    with client(base) as http:
        http.put("/v1/lexicons/acme", json=OWN_LEXICON)
        answer = http.post(
            "/v1/lexicons/acme/check",
            json={"texts": [f"您{OWN_PHRASE}吧", "请您稍等，我帮您查一下", "这个不关我的事"]},
        )
        assert answer.status_code == 200, answer.text
        first, second, third = answer.json()["results"]
        assert [(h["entry"], h["rule"], h["span"]) for h in first] == [
            (0, "forbidden.acme_curt", [1, 8])
        ]
        assert second == [] and third == []  # only this lexicon's entries are judged


def test_dry_runs_in_parallel_are_refused_past_one_per_tenant(base: str) -> None:
    """A dry run compiles (a third of a second of CPU): a client firing them in parallel gets
    ``429 too_many_checks`` past its first, while another tenant's goes through; the slot is
    free again once the first has answered."""
    from concurrent.futures import ThreadPoolExecutor

    body = {"texts": [f"您{OWN_PHRASE}吧"]}
    for key in (KEY_A, KEY_B):
        with client(base, key) as http:
            assert http.put("/v1/lexicons/acme", json=OWN_LEXICON).status_code == 200

    def check(key: str) -> httpx.Response:
        with client(base, key) as http:
            return http.post("/v1/lexicons/acme/check", json=body)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(check, [KEY_A] * 6 + [KEY_B]))
    mine, theirs = answers[:6], answers[6]
    assert {a.status_code for a in mine} == {200, 429}, [a.text for a in mine]
    refused = [a.json() for a in mine if a.status_code == 429]
    assert all(r["error"] == "too_many_checks" for r in refused)
    assert theirs.status_code == 200, theirs.text
    assert check(KEY_A).status_code == 200


BAD_PUTS = [
    ("/v1/lexicons/acme", {**OWN_LEXICON, "entries": []}, "entries"),
    ("/v1/lexicons/acme", {**OWN_LEXICON, "id": "other"}, "id"),
    (
        "/v1/lexicons/acme",
        {**OWN_LEXICON, "categories": {"x": {"name": "n", "severity": "dire"}}},
        "severity",
    ),
    ("/v1/lexicons/acme", [OWN_LEXICON], "body"),
    ("/v1/lexicons/Bad%20Id", {**OWN_LEXICON, "id": "Bad Id"}, "id"),
    ("/v1/scripts/cmcc-10086", "SCRIPT+lexicons=nope", "lexicons.0"),
    ("/v1/scripts/cmcc-10086", "SCRIPT-prompts", "prompts"),
    ("/v1/scripts/cmcc-10086", "SCRIPT+timing.ring_limit_s=-1", "timing.ring_limit_s"),
]


@pytest.mark.parametrize(("path", "body", "field"), BAD_PUTS)
def test_a_bad_document_is_a_422_naming_the_field_and_changes_nothing(
    base: str, path: str, body: Any, field: str
) -> None:
    with client(base) as http:
        if isinstance(body, str) and body.startswith("SCRIPT"):
            script = script_document(http)
            if body == "SCRIPT+lexicons=nope":
                body = {**script, "lexicons": ["nope"]}
            elif body == "SCRIPT-prompts":
                body = {k: v for k, v in script.items() if k != "prompts"}
            else:
                body = {**script, "timing": {**script["timing"], "ring_limit_s": -1}}
        before = http.get(path.replace("%20", " ")).json().get("version")
        answer = http.put(path, json=body)
        assert answer.status_code == 422 and answer.json()["error"] == "invalid_message"
        assert field in answer.json()["detail"]
        assert http.get(path.replace("%20", " ")).json().get("version") == before


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/scripts/cmcc-10086?version=999", 404),
        ("/v1/scripts/cmcc-10086?version=0", 422),
        ("/v1/scripts/cmcc-10086?version=x", 422),
        ("/v1/lexicons/none-such", 404),
        ("/v1/scripts/none-such", 404),
    ],
)
def test_versions_and_ids_that_do_not_exist(base: str, path: str, status: int) -> None:
    with client(base) as http:
        assert http.get(path).status_code == status


def test_the_library_survives_a_restart(tmp_path: Path) -> None:
    env = {"HUASHU_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"}
    for _ in range(2):
        server = Server(tmp_path / "server.log", env=env)
        try:
            server.wait_ready()
            with client(server.base) as http:
                http.put("/v1/lexicons/acme", json=OWN_LEXICON)
                versions = [
                    http.get("/v1/lexicons/acme", params={"version": v}).status_code
                    for v in (1, 2, 3)
                ]
                seeded = http.get("/v1/lexicons/forbidden").json()["version"]
        finally:
            server.stop()
    # Two starts, a PUT each: versions 1 and 2 exist; the seeded library was stored once.
    assert versions == [200, 200, 404] and seeded == 1
