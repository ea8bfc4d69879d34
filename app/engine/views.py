"""What the shell shows of a call: its live snapshot, its checklist, its report, its listing.

Views only read the call; none changes it.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain
from typing import Any

from app.engine.messages import CallSetup, Listing
from app.engine.outbox import NOTHING_EARLIER, Earlier, Outbox
from app.engine.phases import Phase
from app.engine.required import RequiredPrompts
from app.engine.script import Script
from app.engine.segment import Transcript
from app.engine.timeline import Timeline

#: The alerts that announce, live, a required phrase not said; the report's ``missed`` charges
#: the phrase, so they are not charged again (one missed step costs once).
MISSING_ALERTS = ("greeting.missing", "closing.missing", "rating.missing")


class CallViews:
    """The views of one call."""

    def __init__(
        self,
        setup: CallSetup,
        script: Script,
        timeline: Timeline,
        prompts: RequiredPrompts,
        outbox: Outbox,
        transcript: Transcript,
        not_judged: Callable[[], list[dict[str, str]]],
    ) -> None:
        """``not_judged``: the rules the call's data did not let the engine judge, with why."""
        self._setup = setup
        self._script = script
        self._timeline = timeline
        self._prompts = prompts
        self._outbox = outbox
        self._transcript = transcript
        self._not_judged = not_judged

    def listing(self) -> Listing:
        """What a list of calls shows of this one."""
        return listing_of(self._script, self._timeline, self._outbox)

    def checklist(self) -> list[dict[str, Any]]:
        """Every required phrase of this call, with where it stands."""
        prompts = self._prompts
        ended = self._timeline.phase is Phase.ENDED
        items = []
        for prompt in prompts.applicable:
            if prompt.kind != "required":
                continue
            state = prompts.by_rule(prompt.rule)
            if state is not None and state.status == "done":
                status = "done"
            elif ended:
                status = "missed"
            elif state is not None and state.status == "due":
                status = "due"
            else:
                status = "pending"
            items.append(
                {
                    "rule": prompt.rule,
                    "phase": str(prompt.phase),
                    "text": state.text if state is not None else prompts.text_of(prompt),
                    "status": status,
                    "similarity": state.similarity if state is not None else None,
                }
            )
        return items

    def standing(self, earlier: Earlier) -> list[dict[str, Any]]:
        """The bodies of the alerts not retracted, in the order raised: those that left
        memory (``earlier``), then those held."""
        bodies = [body for body in earlier.alerts if body["state"] != "retracted"]
        bodies += [alert.to_body() for alert in self._outbox.standing_alerts()]
        return bodies

    def snapshot(self, earlier: Earlier = NOTHING_EARLIER) -> dict[str, Any]:
        """The live state of the call (``GET /v1/calls/{id}``); ``earlier``: what left the
        engine's memory (its alerts are listed)."""
        return {
            "call_id": self._setup.call_id,
            "script": {"id": self._script.id, "version": self._script.version},
            "call_type": str(self._timeline.call_type),
            "phase": str(self._timeline.phase),
            "prompts": [
                {**p.to_body(), "status": p.status, "similarity": p.similarity}
                for p in self._prompts.states
                if p.status != "armed"
            ],
            "checklist": self.checklist(),
            "alerts": self.standing(earlier),
        }

    def report(self, earlier: Earlier = NOTHING_EARLIER) -> dict[str, Any]:
        """The post-call report: score, phases, phrases said / missed / deviated, alerts, words;
        ``earlier``: what left the engine's memory (the first lines and alerts)."""
        scoring = self._script.scoring
        timing = self._script.timing
        checklist = self.checklist() if self._timeline.answered_at is not None else []
        said = [c for c in checklist if c["status"] == "done"]
        missed = [c["rule"] for c in checklist if c["status"] in ("missed", "pending", "due")]
        deviated = [
            {"rule": c["rule"], "similarity": c["similarity"]}
            for c in said
            if c["similarity"] is not None and c["similarity"] < timing.deviation_below
        ]
        alerts = self.standing(earlier)
        deductions = self._deductions(alerts, missed, deviated)
        score = scoring.start - round(sum(d["points"] for d in deductions))
        report: dict[str, Any] = {
            "call_id": self._setup.call_id,
            "script": {"id": self._script.id, "version": self._script.version},
            "call_type": str(self._timeline.call_type),
            "score": max(0, min(scoring.start, score)),
            "score_formula": self.score_formula(),
            "deductions": deductions,
            "phases": [str(p) for p in self._timeline.reached],
            "said": [
                {"rule": c["rule"], "text": c["text"], "similarity": c["similarity"]} for c in said
            ],
            "missed": missed,
            "deviated": deviated,
            "alerts": alerts,
            "transcript": [
                {
                    "speaker": speaker,
                    "segment": segment,
                    "text": text,
                    "start_ms": start_ms,
                    "end_ms": end_ms,
                }
                for speaker, segment, text, start_ms, end_ms in chain(
                    earlier.lines, self._transcript.lines()
                )
            ],
        }
        report["not_judged"] = self._not_judged()
        if self._timeline.cut_off:
            report["cut_off"] = True
        return report

    def score_formula(self) -> str:
        """How the report's score is made, with this script's figures (``scoring``)."""
        s = self._script.scoring
        return (
            f"{s.start} − {s.forbidden} per forbidden phrase (× {s.phonetic_factor:g} when "
            f"matched by sound) − {s.behaviour} per behaviour alert − {s.script} per script "
            f"alert (not {', '.join(MISSING_ALERTS)}: the missed phrase itself is charged) − "
            f"{s.missed} per required phrase missed − {s.deviated} per phrase said but deviated "
            f"(similarity below {self._script.timing.deviation_below:g}); rounded, between 0 "
            f"and {s.start}"
        )

    def _deductions(
        self, alerts: list[dict[str, Any]], missed: list[str], deviated: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Every deduction from the score, with what it is for: each finding costs once."""
        scoring = self._script.scoring
        cost = {
            "forbidden": scoring.forbidden,
            "script": scoring.script,
            "behaviour": scoring.behaviour,
        }
        out: list[dict[str, Any]] = []
        for alert in alerts:
            rule = alert["rule"]
            if rule in MISSING_ALERTS:
                continue  # announced a phrase that is missed: the missed phrase is charged
            factor = scoring.phonetic_factor if alert["match"] == "phonetic" else 1.0
            out.append(
                {
                    "rule": rule,
                    "points": cost[alert["category"]] * factor,
                    "why": f"alert {alert['id']}" + (" (matched by sound)" if factor != 1 else ""),
                }
            )
        out.extend({"rule": rule, "points": scoring.missed, "why": "missed"} for rule in missed)
        out.extend(
            {"rule": d["rule"], "points": scoring.deviated, "why": f"deviated ({d['similarity']})"}
            for d in deviated
        )
        return out


def listing_of(script: Script, timeline: Timeline, outbox: Outbox) -> Listing:
    """What a list of calls shows of a call (the session asks after every alert, without making
    its :class:`CallViews`)."""
    return Listing(
        script.id,
        script.version,
        str(timeline.call_type),
        str(timeline.phase),
        outbox.alert_count(),
    )
