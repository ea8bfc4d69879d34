"""The words of a customer's utterance that does not yet say what the call is about
(002 规范用语—当询问客户目的时), compiled once per script version for
:class:`app.engine.intent.IntentModel`: the openers, generic words and names that say nothing of
it, the topics and answers that do, and the signs of a need."""

from __future__ import annotations

from collections.abc import Mapping

from app.engine.cues import Cues, Found
from app.engine.intent_spec import PurposeIntent

#: What a phrase of the purpose section is there for.
_OPENER, _GENERIC, _NAME, _NOTICE = range(4)
#: What a phrase of the purpose's topics is there for: an answer or thanks, a business named, a
#: topic's word that names none there.
_ANSWER, _TOPIC_SAID, _NO_TOPIC = range(3)


class PurposeCues:
    """The words of an utterance that does not yet say what it is about, compiled."""

    def __init__(self, spec: PurposeIntent, words: Mapping[str, tuple[str, ...]]) -> None:
        self.name_length = spec.name_length
        self.numbers = spec.numbers
        self.cues: Cues[int] = Cues(
            [
                *((p, _OPENER) for p in spec.openers),
                *((p, _GENERIC) for p in spec.generic),
                *((p, _NAME) for p in spec.names),
                *((p, _NOTICE) for p in spec.notices),
            ],
            words,
        )
        # apart from the words above: a topic must not cover characters of an opener
        self.topics: Cues[int] = Cues(
            [
                *((p, _TOPIC_SAID) for p in spec.topics),
                *((p, _ANSWER) for p in spec.said),
                *((p, _NO_TOPIC) for p in spec.unnamed),
            ],
            words,
        )
        self.coverage = spec.coverage
        self.notice_coverage = spec.notice_coverage
        # signs of a need: scanned only where they decide (a story nothing else has judged)
        self.needs: Cues[bool] = Cues([(p, True) for p in spec.needs], words)
        self.needless_length = spec.needless_length

    def covered(self, text: str) -> tuple[bool, float]:
        """Whether ``text`` opens or greets, and the share of its characters that such words,
        generic ones, or a name after a word that introduces one cover."""
        opener, share, _ = self.returned(text)
        return opener, share

    def returned(self, text: str) -> tuple[bool, float, float]:
        """:meth:`covered`, and the share its words cover with a contact of the company's that
        ``text`` returns (a ``notices`` phrase: 收到你们的短信, 你们给我打过电话) counted as an
        opener (0.0: none is)."""
        found = self.cues.find(text)
        covered = [self.numbers and c.isdigit() for c in text]
        notices: list[Found] = []
        opener = False
        for hit in found:
            if hit.value == _NOTICE:
                notices.append(hit)
                continue
            opener = opener or hit.value == _OPENER
            end = min(hit.end + self.name_length, len(text)) if hit.value == _NAME else hit.end
            for i in range(hit.start, end):
                covered[i] = True
        share = sum(covered) / len(text)
        if not notices:
            return opener, share, 0.0
        for hit in notices:
            for i in range(hit.start, hit.end):
                covered[i] = True
        return opener, share, sum(covered) / len(text)

    def needless(self, text: str) -> bool:
        """Whether ``text`` is a story (``needless_length`` characters or more) that says no
        need: no request, no question, no problem, no grievance (``needs``)."""
        return bool(self.needs) and len(text) >= self.needless_length and not self.needs.find(text)

    def unclear(self, text: str) -> bool:
        """Whether ``text`` opens or greets and every character of it is such a word, a
        generic one, or a name after a word that introduces one."""
        opener, share = self.covered(text)
        return opener and share == 1.0

    def says(self, text: str) -> tuple[bool, bool]:
        """Whether ``text`` names a business (a purpose said, however it opens), and whether
        it says the customer is past their opening (thanks, an answer: ``said``). A topic's
        word inside an ``unnamed`` phrase names none (接到个短信让我回电话)."""
        found = self.topics.find(text) if self.topics else []
        topics: list[Found] = []
        answers: list[Found] = []
        unnamed: list[Found] = []
        for hit in found:
            if hit.value == _TOPIC_SAID:
                topics.append(hit)
            elif hit.value == _ANSWER:
                answers.append(hit)
            else:
                unnamed.append(hit)
        if unnamed:
            # nor is an answer's word inside such a phrase an answer (你打了就知道了)
            topics = [
                t for t in topics if not any(u.start <= t.start and t.end <= u.end for u in unnamed)
            ]
            answers = [
                a
                for a in answers
                if not any(u.start <= a.start and a.end <= u.end for u in unnamed)
            ]
        return bool(topics), bool(answers)

    def names_topic(self, text: str) -> bool:
        """Whether ``text`` names a business or says the customer is past their opening."""
        topic, answer = self.says(text)
        return topic or answer
