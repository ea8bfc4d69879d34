"""What ``huashu check`` writes: a summary in the terminal, a CSV with a row per call and
finding, and one self-contained HTML page (inline CSS and SVG, no script, nothing fetched).

Every text from a call (words said, names, file paths) is escaped where it is written.
"""

from __future__ import annotations

import csv
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from rich.console import Console
from rich.table import Table

from app.check.calls import CallResult, Finding

CSV_COLUMNS = (
    "call",
    "source",
    "script",
    "agent",
    "call_type",
    "score",
    "kind",
    "rule",
    "category",
    "severity",
    "at_ms",
    "speaker",
    "segment",
    "phrase",
    "text",
    "match",
    "detail",
    "not_judged",
    "notes",
    "error",
)
#: Calls whose findings and words the HTML page shows in full (the lowest scores first); the
#: CSV has every one.
HTML_CALLS = 500
#: Rules a chart shows, most findings first.
CHART_RULES = 20


@dataclass
class Totals:
    """What the results add up to, for the summary and the page."""

    calls: int = 0
    checked: int = 0
    failed: int = 0
    #: Checked, with nothing to judge (no agent speech).
    unjudged: int = 0
    scores: list[int] = field(default_factory=list)
    findings: int = 0
    by_rule: Counter[str] = field(default_factory=Counter)
    calls_by_rule: Counter[str] = field(default_factory=Counter)
    category_of: dict[str, str] = field(default_factory=dict)
    by_agent: dict[str, list[CallResult]] = field(default_factory=lambda: defaultdict(list))
    not_judged: Counter[str] = field(default_factory=Counter)

    @property
    def mean_score(self) -> float | None:
        return statistics.fmean(self.scores) if self.scores else None


def totals(results: Iterable[CallResult]) -> Totals:
    t = Totals()
    for result in results:
        t.calls += 1
        if result.error is not None:
            t.failed += 1
            continue
        if result.score is None:
            t.unjudged += 1
            continue
        t.checked += 1
        t.scores.append(result.score)
        t.findings += len(result.findings)
        t.by_agent[result.agent or "—"].append(result)
        for finding in result.findings:
            t.by_rule[finding.rule] += 1
            t.category_of.setdefault(finding.rule, finding.category)
        for rule in {f.rule for f in result.findings}:
            t.calls_by_rule[rule] += 1
        t.not_judged.update(result.not_judged)
    return t


def ordered(results: Iterable[CallResult]) -> list[CallResult]:
    """Calls in the order a reader wants them: failures, then the lowest scores."""
    return sorted(results, key=lambda r: (r.score is not None, r.score or 0, r.name))


# -- CSV ---------------------------------------------------------------------------------------


def write_csv(results: list[CallResult], path: Path) -> None:
    """A row per call and finding; a call with no finding has one row with its score."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for result in sorted(results, key=lambda r: (r.source, r.name)):
            call = [
                result.name,
                result.source,
                result.script,
                result.agent,
                result.call_type,
                "" if result.score is None else result.score,
            ]
            tail = [
                " ".join(result.not_judged),
                "; ".join(result.notes),
                result.error or "",
            ]
            if not result.findings:
                writer.writerow(call + [""] * 11 + tail)
            for f in result.findings:
                writer.writerow(call + _finding_cells(f) + tail)


def _finding_cells(f: Finding) -> list[object]:
    cells = [f.kind, f.rule, f.category, f.severity, f.at_ms, f.speaker, f.segment, f.phrase]
    cells += [f.text, f.match, f.detail]
    return ["" if c is None else c for c in cells]


# -- the terminal ------------------------------------------------------------------------------


def print_summary(results: list[CallResult], console: Console, out_dir: Path | None) -> None:
    t = totals(results)
    mean = t.mean_score
    head = Table(title="huashu check", show_header=True, header_style="bold")
    for name in ("calls", "judged", "nothing to judge", "could not be checked"):
        head.add_column(name, justify="right")
    for name in ("mean score", "findings"):
        head.add_column(name, justify="right")
    head.add_row(
        str(t.calls),
        str(t.checked),
        str(t.unjudged),
        str(t.failed),
        "—" if mean is None else f"{mean:.1f}",
        str(t.findings),
    )
    console.print(head)
    if t.by_rule:
        rules = Table(title="findings by rule", header_style="bold")
        rules.add_column("rule")
        rules.add_column("category")
        rules.add_column("findings", justify="right")
        rules.add_column("calls", justify="right")
        for rule, n in t.by_rule.most_common(15):
            rules.add_row(rule, t.category_of[rule], str(n), str(t.calls_by_rule[rule]))
        console.print(rules)
    calls = Table(title="calls, lowest scores first", header_style="bold")
    calls.add_column("call")
    calls.add_column("agent")
    calls.add_column("score", justify="right")
    calls.add_column("findings", justify="right")
    calls.add_column("rules")
    shown = ordered(results)[:20]
    for r in shown:
        named = sorted({f.rule for f in r.findings})
        rules_said = ", ".join(named[:2]) + (f" +{len(named) - 2}" if len(named) > 2 else "")
        score = "—" if r.score is None else str(r.score)
        why = r.error or (r.notes[-1] if r.score is None and r.notes else "")
        calls.add_row(r.name, r.agent or "—", score, str(len(r.findings)), why or rules_said)
    console.print(calls)
    if len(results) > len(shown):
        console.print(f"… and {len(results) - len(shown)} more calls in the CSV and the page")
    for rule, n in sorted(t.not_judged.items()):
        console.print(f"[yellow]not judged[/] {rule}: {n} calls ({_why(rule)})")
    if out_dir is not None:
        console.print(f"wrote {out_dir / 'calls.csv'} and {out_dir / 'report.html'}")


def _why(rule: str) -> str:
    if rule == "behaviour.slow_answer":
        return "the input does not say when the phone rang"
    if rule == "greeting.wrong_time":
        return "the input does not say at what time of day the call was answered"
    return "the input has no times for the words"


# -- the HTML page -----------------------------------------------------------------------------

STYLE = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei","PingFang SC","Microsoft YaHei",
sans-serif;margin:24px auto;max-width:1100px;color:#1f2430;background:#fafafa;padding:0 16px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}
.sub{color:#5b6473;margin:0 0 16px}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #e2e5ea;border-radius:8px;padding:10px 16px;min-width:120px}
.card b{display:block;font-size:22px}.card span{color:#5b6473;font-size:13px}
.charts{display:flex;gap:16px;flex-wrap:wrap}
.chart{background:#fff;border:1px solid #e2e5ea;border-radius:8px;padding:12px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:14px}
th,td{border-bottom:1px solid #e8ebef;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f1f3f6;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.score{font-weight:700}.good{color:#1c7c3c}.fair{color:#a15c00}.poor{color:#b3261e}
details{background:#fff;border:1px solid #e2e5ea;border-radius:8px;margin:8px 0;padding:8px 12px}
summary{cursor:pointer}summary .score{display:inline-block;width:40px}
.finding{margin:6px 0 6px 12px}.rule{font-family:monospace;background:#eef1f5;padding:1px 4px;
border-radius:3px}.said{color:#1f2430}.phrase{color:#5b6473}
.forbidden{border-left:3px solid #b3261e;padding-left:8px}
.script{border-left:3px solid #a15c00;padding-left:8px}
.behaviour{border-left:3px solid #5b5fc7;padding-left:8px}
.words{font-size:13px;color:#3b4250;margin:8px 0 0 12px}.words p{margin:2px 0}
.note{color:#7a5a00;background:#fff8e1;border:1px solid #f1e0a6;border-radius:6px;padding:6px 10px;
margin:6px 0;font-size:13px}
"""


def _score_class(score: int | None) -> str:
    if score is None:
        return "poor"
    return "good" if score >= 90 else "fair" if score >= 70 else "poor"


def bar_chart(counts: list[tuple[str, int]], title: str) -> str:
    """Horizontal bars, one per label, as inline SVG."""
    if not counts:
        return (
            f'<svg role="img" aria-label="{escape(title)}" width="420" height="40">'
            '<text x="0" y="24" font-size="13" fill="#5b6473">no findings</text></svg>'
        )
    label_w, bar_w, row_h = 210, 170, 22
    top = max(n for _, n in counts)
    height = row_h * len(counts) + 8
    rows = []
    for i, (label, n) in enumerate(counts):
        y = i * row_h + 4
        w = max(2, round(bar_w * n / top))
        rows.append(
            f'<text x="{label_w - 6}" y="{y + 15}" font-size="12" text-anchor="end" '
            f'fill="#1f2430">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="15" rx="2" fill="#3b6fd8">'
            f"<title>{escape(label)}: {n}</title></rect>"
            f'<text x="{label_w + w + 4}" y="{y + 15}" font-size="12" fill="#5b6473">{n}</text>'
        )
    return (
        f'<svg role="img" aria-label="{escape(title)}" width="{label_w + bar_w + 40}" '
        f'height="{height}" viewBox="0 0 {label_w + bar_w + 40} {height}">'
        + "".join(rows)
        + "</svg>"
    )


def histogram(scores: list[int], title: str, bins: int = 10, top_score: int = 100) -> str:
    """Calls by score, ``bins`` columns from 0 to ``top_score``, as inline SVG."""
    width, height, pad = 420, 180, 24
    counts = [0] * bins
    for score in scores:
        counts[min(bins - 1, max(0, score * bins // (top_score + 1)))] += 1
    top = max(counts) or 1
    col = (width - 2 * pad) / bins
    parts = [
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        'stroke="#9aa3b2"/>'
    ]
    for i, n in enumerate(counts):
        h = (height - 2 * pad - 10) * n / top
        x = pad + i * col
        low = i * (top_score + 1) // bins
        high = (i + 1) * (top_score + 1) // bins - 1
        colour = "#1c7c3c" if low >= 90 else "#a15c00" if low >= 70 else "#b3261e"
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{height - pad - h:.1f}" width="{col - 4:.1f}" '
            f'height="{h:.1f}" fill="{colour}"><title>{low}–{high}: {n} calls</title></rect>'
        )
        if n:
            parts.append(
                f'<text x="{x + col / 2:.1f}" y="{height - pad - h - 3:.1f}" font-size="11" '
                f'text-anchor="middle" fill="#1f2430">{n}</text>'
            )
        parts.append(
            f'<text x="{x + col / 2:.1f}" y="{height - 8}" font-size="10" '
            f'text-anchor="middle" fill="#5b6473">{low}</text>'
        )
    return (
        f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">' + "".join(parts) + "</svg>"
    )


def _finding_html(f: Finding) -> str:
    where = f" at {f.at_ms / 1000:.1f} s" if f.at_ms is not None else ""
    said = f'<div class="said">“{escape(f.text)}”</div>' if f.text else ""
    phrase = f'<div class="phrase">norm: {escape(f.phrase)}</div>' if f.phrase else ""
    detail = f" — {escape(f.detail)}" if f.detail else ""
    match = f" ({escape(f.match)})" if f.match and f.kind == "alert" else ""
    return (
        f'<div class="finding {escape(f.category)}"><span class="rule">{escape(f.rule)}</span> '
        f"{escape(f.kind)}, {escape(f.severity)}{match}{escape(where)}{detail}{said}{phrase}</div>"
    )


def _call_html(r: CallResult) -> str:
    score = "—" if r.score is None else str(r.score)
    if r.error is not None:
        what = "could not be checked"
    elif r.score is None:
        what = "nothing to judge"
    else:
        what = f"{escape(r.call_type)} · {len(r.findings)} findings"
    head = (
        f'<summary><span class="score {_score_class(r.score)}">{score}</span> '
        f"<b>{escape(r.name)}</b> · {escape(r.agent or 'no agent id')} · {what}</summary>"
    )
    body = [f'<div class="phrase">{escape(r.source)}</div>']
    if r.error:
        body.append(f'<div class="note">could not be checked: {escape(r.error)}</div>')
    for note in r.notes:
        body.append(f'<div class="note">{escape(note)}</div>')
    if r.not_judged:
        body.append(f'<div class="note">not judged: {escape(", ".join(r.not_judged))}</div>')
    body += [_finding_html(f) for f in r.findings]
    if r.transcript:
        words = "".join(
            f"<p><b>{escape(speaker)}</b> {escape(text)}</p>"
            for speaker, text, _, _ in r.transcript
        )
        body.append(f'<details class="words"><summary>words said</summary>{words}</details>')
    return f"<details>{head}{''.join(body)}</details>"


def render_html(results: list[CallResult], title: str, generated: str) -> str:
    """The report as one HTML page."""
    t = totals(results)
    mean = t.mean_score
    cards = [
        (str(t.calls), "calls"),
        (str(t.checked), "judged"),
        ("—" if mean is None else f"{mean:.1f}", "mean score"),
        (str(t.findings), "findings"),
        (str(t.unjudged), "nothing to judge"),
        (str(t.failed), "could not be checked"),
    ]
    cards_html = "".join(
        f'<div class="card"><b>{escape(v)}</b><span>{k}</span></div>' for v, k in cards
    )
    rule_rows = "".join(
        f"<tr><td><span class='rule'>{escape(rule)}</span></td>"
        f"<td>{escape(t.category_of[rule])}</td><td class='n'>{n}</td>"
        f"<td class='n'>{t.calls_by_rule[rule]}</td></tr>"
        for rule, n in t.by_rule.most_common()
    )
    agent_rows = []
    for agent, calls in sorted(t.by_agent.items()):
        scores = [c.score for c in calls if c.score is not None]
        findings = sum(len(c.findings) for c in calls)
        forbidden = sum(1 for c in calls for f in c.findings if f.category == "forbidden")
        agent_rows.append(
            f"<tr><td>{escape(agent)}</td><td class='n'>{len(calls)}</td>"
            f"<td class='n'>{statistics.fmean(scores):.1f}</td><td class='n'>{min(scores)}</td>"
            f"<td class='n'>{findings}</td><td class='n'>{forbidden}</td></tr>"
        )
    grouped: dict[tuple[str, int], list[str]] = defaultdict(list)
    for rule, n in sorted(t.not_judged.items()):
        grouped[(_why(rule), n)].append(rule)
    not_judged = "".join(
        f'<div class="note">not judged in {n} calls — {escape(why)}: '
        + " ".join(f'<span class="rule">{escape(rule)}</span>' for rule in rules)
        + "</div>"
        for (why, n), rules in grouped.items()
    )
    listed = ordered(results)
    calls_html = "".join(_call_html(r) for r in listed[:HTML_CALLS])
    more = (
        f'<p class="sub">… {len(listed) - HTML_CALLS} more calls in calls.csv</p>'
        if len(listed) > HTML_CALLS
        else ""
    )
    chart_rules = bar_chart(t.by_rule.most_common(CHART_RULES), "findings by rule")
    chart_scores = histogram(t.scores, "score distribution")
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{escape(title)}</title><style>{STYLE}</style></head>
<body>
<h1>{escape(title)}</h1>
<p class="sub">Huashu offline check · {escape(generated)}</p>
<div class="cards">{cards_html}</div>
{not_judged}
<h2>Charts</h2>
<div class="charts">
<div class="chart"><b>Findings by rule</b><br>{chart_rules}</div>
<div class="chart"><b>Score distribution</b><br>{chart_scores}</div>
</div>
<h2>By rule</h2>
<table><thead><tr><th>rule</th><th>category</th><th>findings</th><th>calls</th></tr></thead>
<tbody>{rule_rows or '<tr><td colspan="4">no findings</td></tr>'}</tbody></table>
<h2>By agent</h2>
<table><thead><tr><th>agent</th><th>calls</th><th>mean score</th><th>lowest</th><th>findings</th>
<th>forbidden phrases</th></tr></thead><tbody>{"".join(agent_rows)}</tbody></table>
<h2>Calls, lowest scores first</h2>
{calls_html}{more}
</body></html>
"""


def write_html(results: list[CallResult], path: Path, title: str, generated: str) -> None:
    path.write_text(render_html(results, title, generated), encoding="utf-8")
