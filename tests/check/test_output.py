"""What ``huashu check`` writes (app/check/output.py): the CSV's rows, the page's totals and
charts, escaping, nothing external."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from app.check.calls import CallResult, Finding
from app.check.output import CSV_COLUMNS, bar_chart, histogram, render_html, totals, write_csv

HOSTILE = '<script>alert("x")</script> & “引号”'


def result(
    name: str, agent: str, score: int | None, *findings: Finding, **more: object
) -> CallResult:
    return CallResult(
        name, f"{name}.jsonl", "cmcc-10086", agent, "consult", score, findings=findings, **more
    )  # type: ignore[arg-type]


SHIRK = Finding(
    "alert",
    "forbidden.shirk",
    "forbidden",
    "critical",
    7000,
    "agent",
    "a2",
    "不关我的事!",
    "这个真不关我的事",
    "exact",
)
LATE = Finding(
    "alert", "greeting.late", "script", "major", 5000, match="rule", detail="not within 5 s"
)
MISSED = Finding(
    "missed", "closing.confirm", "script", "major", phrase="请问我刚才给您的解释您明白吗?"
)
RESULTS = [
    result("c1", "A1", 100, transcript=(("agent", "您好", 0, 500),)),
    result("c2", "A1", 40, SHIRK, LATE, MISSED, not_judged=("behaviour.slow_answer",)),
    result("c3", "A2", 70, SHIRK),
    result("c4", "", None, error="not JSON"),
    result("c5", "", None, notes=("no agent turns: nothing the agent said to judge",)),
]


def test_totals() -> None:
    t = totals(RESULTS)
    assert (t.calls, t.checked, t.failed, t.unjudged, t.findings) == (5, 3, 1, 1, 4)
    assert t.by_rule == {"forbidden.shirk": 2, "greeting.late": 1, "closing.confirm": 1}
    assert t.mean_score == 70
    assert sorted(t.by_agent) == ["A1", "A2"]


def test_the_csv_has_a_row_per_call_and_finding(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    write_csv(RESULTS, path)
    rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [(r["call"], r["rule"]) for r in rows] == [
        ("c1", ""),
        ("c2", "forbidden.shirk"),
        ("c2", "greeting.late"),
        ("c2", "closing.confirm"),
        ("c3", "forbidden.shirk"),
        ("c4", ""),
        ("c5", ""),
    ]
    shirk = rows[1]
    assert (shirk["text"], shirk["at_ms"], shirk["score"], shirk["not_judged"]) == (
        "这个真不关我的事",
        "7000",
        "40",
        "behaviour.slow_answer",
    )
    assert rows[5]["error"] == "not JSON" and rows[5]["score"] == ""
    assert rows[6]["notes"].startswith("no agent turns")


def test_the_page_shows_scores_findings_and_the_words_said() -> None:
    page = render_html(RESULTS, "Check", "today")
    assert "forbidden.shirk" in page and "这个真不关我的事" in page and "不关我的事!" in page
    assert "not judged in 1 calls — the input does not say when the phone rang" in page
    assert "behaviour.slow_answer" in page
    assert page.count("<svg") == 2 and "<title>forbidden.shirk: 2</title>" in page
    by_agent = page.split("<h2>By agent</h2>")[1].split("</table>")[0]
    assert "<td>A1</td><td class='n'>2</td><td class='n'>70.0</td><td class='n'>40</td>" in by_agent
    assert "could not be checked: not JSON" in page and "nothing to judge" in page


def test_everything_from_a_call_is_escaped_and_nothing_is_external() -> None:
    hostile = result(
        HOSTILE,
        HOSTILE,
        50,
        Finding(
            "alert",
            "forbidden.shirk",
            "forbidden",
            "critical",
            1,
            "agent",
            HOSTILE,
            HOSTILE,
            HOSTILE,
            "exact",
            HOSTILE,
        ),
        notes=(HOSTILE,),
        transcript=(("agent", HOSTILE, 0, 1),),
    )
    page = render_html([hostile], HOSTILE, HOSTILE)
    assert "<script" not in page and "&lt;script&gt;" in page
    assert not re.search(r"""(src|href)=["'](?!data:)""", page)
    assert "http://" not in page and "https://" not in page and "@import" not in page


@pytest.mark.parametrize("scores", [[], [0], [100], [0, 55, 89, 90, 100]])
def test_the_histogram_counts_every_score(scores: list[int]) -> None:
    svg = histogram(scores, "scores")
    counted = sum(int(n) for n in re.findall(r": (\d+) calls</title>", svg))
    assert counted == len(scores)


def test_the_bar_chart_with_no_findings_says_so() -> None:
    assert "no findings" in bar_chart([], "rules")
    assert bar_chart([("<x>", 3)], "rules").count("&lt;x&gt;") == 2
