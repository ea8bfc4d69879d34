"""The words the behaviour rules listen for (:mod:`app.engine.behaviour`), read once per
script version: every call on it shares them."""

from __future__ import annotations

from app.engine.cues import Cues, vocabulary
from app.engine.normalize import normalize_text
from app.engine.script import Script


class BehaviourWords:
    """The words the behaviour rules listen for, read once per script version (every call on
    it shares them): back-channel words, the bare 'what' and what surrounds it, the closing
    words of 客户尚未挂机便与同事交谈, and the requests to wait that announce a hold."""

    __slots__ = (
        "back_channel",
        "back_channel_longest",
        "bare_utterances",
        "what",
        "around",
        "around_longest",
        "what_alphabet",
        "repeat",
        "polite",
        "closing_words",
        "announce",
    )

    def __init__(self, script: Script) -> None:
        rules = script.behaviour
        self.back_channel, self.back_channel_longest = vocabulary(rules.interrupting.back_channel)
        what = rules.bare_what
        self.bare_utterances = frozenset(normalize_text(u) for u in what.utterances)
        self.what = vocabulary(what.what)[0]
        self.around, self.around_longest = vocabulary((*what.what, *what.around))
        self.repeat = tuple(sorted(vocabulary(what.repeat)[0], key=len, reverse=True))
        #: Every character a bare 'what' can be made of: its words, what may surround them and
        #: the demands to repeat that are taken out first.
        self.what_alphabet = frozenset("".join(self.around) + "".join(self.repeat))
        self.polite = Cues((p, None) for p in what.polite)
        colleague = rules.colleague_talk
        self.closing_words = vocabulary(colleague.closing if colleague else ())
        announce = rules.hold_unannounced
        self.announce = Cues((p, None) for p in (announce.phrases if announce else ()))
