"""A script and its lexicon, compiled once for every call that uses them."""

from __future__ import annotations

from app.engine.behaviour_words import BehaviourWords
from app.engine.index import PhraseIndex, Target
from app.engine.intent import IntentModel
from app.engine.lexicon import Lexicon, LexiconEntry
from app.engine.matcher import SegmentHit
from app.engine.normalize import normalize_text
from app.engine.script import Script

RUSHING_OFF = "rushing_off:0"
#: What is also matched by sound: the words an agent must not say. Triggers of prompts and
#: situations are matched on characters only (a missed suggestion costs little, a wrong one
#: distracts).
PHONETIC_KINDS = frozenset({"forbidden", "rushing_off"})


class CompiledScript:
    """The phrase index and look-up tables of one script version; shared, never mutated."""

    def __init__(self, script: Script, lexicon: Lexicon | None) -> None:
        self.script = script
        self.lexicon = lexicon
        entries: list[tuple[str, Target]] = []
        if lexicon is not None:
            for i, entry in enumerate(lexicon.entries):
                derive = entry.reworded
                target = Target("forbidden", str(i), "agent", sound=entry.phonetic, derive=derive)
                for phrase in (entry.phrase, *entry.variants):
                    entries.append((phrase, target))
                # what qualifies a phrase is heard in the same forms as the phrase
                for phrase in entry.allow:
                    allow = Target("allow", f"f{i}", "agent", excuses=target.key, derive=derive)
                    entries.append((phrase, allow))
                for phrase in entry.softened_by:
                    soften = Target("soften", f"f{i}", "agent", excuses=target.key, derive=derive)
                    entries.append((phrase, soften))
        behaviour = script.behaviour
        target = Target("rushing_off", "0", "agent")
        entries.extend((p, target) for p in behaviour.rushing_off.phrases)
        entries.extend(
            (p, Target("allow", "r0", "agent", excuses=RUSHING_OFF))
            for p in behaviour.rushing_off.allow
        )
        if script.greeting is not None:
            for word in script.greeting.words:
                entries.append((word, Target("greeting_word", word, "agent")))
        for i, situation in enumerate(script.situations):
            if situation.trigger is not None:
                target = Target("situation", str(i), situation.speaker, situation.trigger.at_end)
                entries.extend((p, target) for p in situation.trigger.phrases)
        if script.end_signals is not None:
            target = Target("end_signal", "0", "customer", script.end_signals.at_end)
            entries.extend((p, target) for p in script.end_signals.phrases)
        for call_type, trigger in script.call_type_signals.items():
            target = Target("call_type", str(call_type), "customer", trigger.at_end)
            entries.extend((p, target) for p in trigger.phrases)
        for phrase in behaviour.hold_no_apology.phrases:
            entries.append((phrase, Target("hold_apology", "0", "agent")))
        # One index per speaker: the agent's speech is never checked for what the customer says
        # (call-type signals, end signals, the customer's situations), so it is not scanned for
        # it either — those were most of the hits in ordinary agent talk, each one work.
        self.agent_index = PhraseIndex(
            [(p, t) for p, t in entries if t.speaker != "customer"], phonetic_kinds=PHONETIC_KINDS
        )
        self.customer_index = PhraseIndex(
            [(p, t) for p, t in entries if t.speaker == "customer"], phonetic_kinds=PHONETIC_KINDS
        )
        #: The words the behaviour rules listen for.
        self.behaviour_words = BehaviourWords(script)
        self._unless_after = {
            id(entry): tuple(normalize_text(p) for p in entry.unless_after)
            for entry in (lexicon.entries if lexicon is not None else ())
            if entry.unless_after
        }
        #: The customer's intent (complaint, unclear purpose): ``app.engine.intent``.
        self.intent = IntentModel(script.intent)
        self.situation_by_rule = {s.rule: i for i, s in enumerate(script.situations)}
        self.situation_by_event = {
            s.event: i for i, s in enumerate(script.situations) if s.event is not None
        }

    def said_before(self, entry: LexiconEntry, text: str, hit: SegmentHit) -> bool:
        """Whether one of the entry's ``unless_after`` phrases comes before ``hit`` in ``text``."""
        before = text[: hit.start]
        return any(phrase in before for phrase in self._unless_after.get(id(entry), ()))
