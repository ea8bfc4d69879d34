"""The script's ``intent:`` section: how the customer's intent is recognised, as data.

Same conventions as :mod:`app.engine.script`: frozen values, validated once, citing their norm.
Every phrase takes the pattern syntax of :mod:`app.engine.patterns` and may name a class of
``words`` as ``<name>`` (:mod:`app.engine.cues`): the classes are the synonyms a script author
widens (a new word for money, a new regulator) without touching a pattern; the patterns are the
meanings (a restitution verb before a word for money). A phrase or class that cannot be read is
refused at load.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pydantic import Field, model_validator

from app.engine.cues import class_words, read
from app.engine.document import Frozen, Source
from app.engine.learned import packaged_models
from app.engine.patterns import PatternError


class IntentCue(Frozen):
    """Words that signal a complaint, with how much each counts."""

    #: What they are, named in the ``call_type`` event's reason: explicit, demand, threat,
    #: dissatisfaction, intensifier …
    kind: str = Field(pattern=r"^[a-z_]+$")
    weight: float = Field(gt=0, le=10)
    #: The most the cues of this kind count for together in one utterance (none: no limit).
    cap: float | None = Field(default=None, gt=0)
    phrases: tuple[str, ...] = Field(min_length=1)


class ComplaintIntent(Frozen):
    """A customer complains (the call becomes a complaint) when the cues heard in one final
    utterance weigh ``threshold`` or more. A cue does not count where the customer denies it
    (a ``negators`` word shortly before it in its clause), where its word means something else
    (``neutral``), where it names a complaint of someone else's (``third_party``), where it is
    about the complaint channel (``topic``; or, for the ``askable`` kinds, in an utterance that
    asks, ``asking``, without the customer committing to it, ``committing``), or where it lies in
    a past matter the customer says is settled; a past matter neither settled nor unresolved
    counts at ``past_factor`` of its weight."""

    source: Source
    threshold: float = Field(gt=0)
    cues: tuple[IntentCue, ...] = Field(min_length=1)
    #: Words that deny what follows them within ``negation_window`` characters of its clause.
    negators: tuple[str, ...] = ()
    negation_window: int = Field(default=6, ge=0, le=20)
    #: Clauses that ask rather than deny despite a negator (这不是坑人吗).
    rhetorical: tuple[str, ...] = ()
    #: Words that place a cue after them in the past (上次, 之前).
    past: tuple[str, ...] = ()
    past_factor: float = Field(default=0.5, ge=0, le=1)
    #: A past matter is settled (已经解决) ...
    settled: tuple[str, ...] = ()
    #: ... unless the customer says it is not (到现在都没).
    unresolved: tuple[str, ...] = ()
    #: Asking for someone else or out of curiosity: no cue of the utterance counts.
    third_party: tuple[str, ...] = ()
    #: Phrases about complaining (投诉电话, 怎么投诉): a cue inside one is a topic, not an act.
    topic: tuple[str, ...] = ()
    #: Words that hold a cue's word with another meaning (客户经理 is no 经理 to escalate to,
    #: 退订 no refund): a cue that ends inside one does not count.
    neutral: tuple[str, ...] = ()
    #: The kinds of cue (a complaint, a regulator) that a question can be about rather than do:
    #: in an utterance with an ``asking`` word (吗, 多久, 管不管), such a cue counts only after a
    #: ``committing`` word of its own clause (我要, 我就去): 投诉了多久有结果 asks; 我要投诉,
    #: 你们投诉电话多少 complains.
    askable: tuple[str, ...] = ()
    asking: tuple[str, ...] = ()
    committing: tuple[str, ...] = ()
    #: In an utterance that asks, a cue after one of these words in its clause (如果, 要是) is
    #: a question about what would be, unless the customer commits to it (如果不处理我就投诉).
    hypothetical: tuple[str, ...] = ()
    #: Words that begin a new clause besides punctuation (但是, 不过).
    breaks: tuple[str, ...] = ()
    #: Someone other than the company who wronged the caller (快递, 骗子, 前同事, 卖家): where
    #: one is named, a cue of an ``aimable`` kind (anger, scorn, a threat of the police) whose
    #: clause names none of ``carrier`` (你们, 营业厅, 客服) is aimed at them, not at the company,
    #: and is taken back: 气死我了 快递把我新手机摔坏了 想补一张新卡.
    elsewhere: tuple[str, ...] = ()
    #: A caller coming over to the company (转到你们, 携号转网过来): where one of these is said,
    #: a ``rivals`` phrase (联通那边, 移动的宽带) names a culprit as ``elsewhere`` does, and a
    #: leaving cue inside one of these is no threat to leave.
    joining: tuple[str, ...] = ()
    rivals: tuple[str, ...] = ()
    carrier: tuple[str, ...] = ()
    aimable: tuple[str, ...] = ()
    #: The kinds whose words turn thanks into their opposite (真是谢谢你们了): a ``settled``
    #: word inside one of their cues settles nothing.
    ironic: tuple[str, ...] = ()
    #: Praise of someone (表扬, 五星, 好评): no cue of the utterance counts but an ``explicit``
    #: one (小伙子态度真好 你们要表扬表扬他: 态度 is no grievance there).
    praise: tuple[str, ...] = ()

    def phrases(self) -> Iterator[str]:
        for cue in self.cues:
            yield from cue.phrases
        yield from (*self.negators, *self.rhetorical, *self.past, *self.settled)
        yield from (*self.unresolved, *self.third_party, *self.topic, *self.neutral)
        yield from self.asking
        yield from (*self.committing, *self.hypothetical, *self.breaks)
        yield from (*self.elsewhere, *self.carrier, *self.praise, *self.joining, *self.rivals)


class PurposeIntent(Frozen):
    """The customer's purpose is unclear (002 当询问客户目的时) when a final utterance opens a
    request or greets (``openers``) and says nothing else than such words and ``generic`` ones
    (问一下, 业务, 个事) — but for a name after one of the ``names`` words (我姓王) and, with
    ``numbers``, digits: the agent should ask which business it is about."""

    source: Source
    openers: tuple[str, ...] = Field(min_length=1)
    generic: tuple[str, ...] = ()
    #: Words a name follows (姓, 叫): up to ``name_length`` characters after one are a name.
    names: tuple[str, ...] = ()
    name_length: int = Field(default=3, ge=1, le=6)
    #: Whether digits (a phone or an account number given first: 我的号码是139…) say nothing
    #: of the purpose either.
    numbers: bool = False
    #: Words that name a business (话费, 宽带, 携号转网, 上不了网): where one is said the purpose
    #: is said, and the learned model (``learned.unclear_purpose``) may not call it unclear. The
    #: model weighs the opener of 喂你好 我想问一下流量还剩多少, not that a purpose follows it.
    topics: tuple[str, ...] = ()
    #: Words that say the customer is past their opening, though they name no business: an
    #: answer, thanks, a goodbye (好的, 谢谢, 再见). They veto as a topic does.
    said: tuple[str, ...] = ()
    #: Phrases that hold a topic's word without naming a business: a topic inside one does not
    #: count (接到个短信让我回电话 is a returned call, not a question about 短信).
    unnamed: tuple[str, ...] = ()
    #: A contact of the company's that the caller is returning (收到你们的短信, 你们给我打过电话,
    #: 信箱里有你们的留言): covered as an opener is. Where one is said, a purpose not said
    #: (``coverage``) is unclear without the learned model's gate (``learned.unsaid_purpose``):
    #: the caller answers the company's contact and has asked for nothing the model could read
    #: as a request whose object the topics lack.
    notices: tuple[str, ...] = ()
    #: The share of its characters that such words must cover for a returned contact to go
    #: without the model's gate: below it the caller has said more than that they are returning
    #: it (收到语音留言说我的手机可以免费换五G卡: what it was about, in words the topics lack).
    notice_coverage: float = Field(default=0.8, gt=0, le=1)
    #: A purpose not said: an utterance that names no topic, says none of ``said``, holds no
    #: complaint cue (counted or taken back) and is made of opener and generic words for at least
    #: this share of its characters also leaves the purpose unclear (none: only an utterance
    #: they cover whole, with an opener). What the words leave uncovered is the caller's own
    #: story (我刚从医院回来, 我老头子不识字), which the words cannot list.
    coverage: float | None = Field(default=None, gt=0, le=1)
    #: Signs of a need (tenth round): a request (帮我…, 能不能), a question about something (怎么,
    #: 多少, 什么时候), a problem (不了, 坏了, 被…), a grievance. An utterance that says none of
    #: them, names no topic, says none of ``said``, holds no complaint cue taken back and is no
    #: complaint leaves the purpose unclear however little of it the words above cover: the caller
    #: talks about their day, their family or their health and has not said what they need
    #: (empty: no such rule).
    needs: tuple[str, ...] = ()
    #: The least number of characters such an utterance has (a story, not a word or two that
    #: the openers judge).
    needless_length: int = Field(default=8, ge=1)

    def phrases(self) -> Iterator[str]:
        yield from (*self.openers, *self.generic, *self.names, *self.topics, *self.said)
        yield from (*self.unnamed, *self.notices, *self.needs)


class LearnedUse(Frozen):
    """The learned model beside the cues (:mod:`app.engine.learned`): an utterance the cues
    leave alone is a complaint, or leaves the purpose unclear, when the model gives it that
    label with at least the probability set here (none: the model is not asked for that label).
    It never overrides the cues: where a complaint cue is taken back (denied, past and settled,
    someone else's, a question about the channel) the model does not make it one again."""

    #: The packaged weights (``app/engine/models/<model>.json``), trained by
    #: ``python -m tests.corpus.train_intent``.
    model: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    complaint: float | None = Field(default=None, gt=0.5, lt=1)
    unclear_purpose: float | None = Field(default=None, gt=0.5, lt=1)
    #: The probability it needs to make a complaint of an utterance that says nothing yet (no
    #: topic, no complaint cue that weighs, mostly openers and generic words: ``unclear_purpose.
    #: coverage``), if higher than ``complaint``: it reads 你们 and 给我 as grievances (你们之前给我
    #: 打过电话 我没接着), and such an utterance otherwise leaves the purpose unclear.
    unsaid_complaint: float | None = Field(default=None, gt=0.5, lt=1)
    #: The least probability of an unclear purpose it must give an utterance the words say says
    #: nothing yet (``unclear_purpose.coverage``) before the purpose question is asked (none: the
    #: words alone): to it a request whose object the topics lack (麻烦帮我查一下附近的营业厅)
    #: reads as the purpose said that it is.
    unsaid_purpose: float | None = Field(default=None, gt=0, lt=1)
    #: The probability it needs to make a complaint of an utterance that says no need at all
    #: (``unclear_purpose.needs``), if higher than ``unsaid_complaint``: it reads a hard day told
    #: at length (我一个人在家 有时候都没人说话) as a grievance.
    needless_complaint: float | None = Field(default=None, gt=0.5, lt=1)

    @model_validator(mode="after")
    def _packaged(self) -> LearnedUse:
        if self.model not in packaged_models():
            raise ValueError(f"no packaged model {self.model!r}: {sorted(packaged_models())}")
        return self


class Intent(Frozen):
    """What the customer's words are recognised as, beyond single keywords."""

    #: Classes of words (synonyms) the phrases below name as ``<name>``; an entry ``<other>``
    #: takes in another class's words.
    words: dict[str, tuple[str, ...]] = {}
    complaint: ComplaintIntent | None = None
    unclear_purpose: PurposeIntent | None = None
    #: A learned model beside the cues above (none: the cues alone).
    learned: LearnedUse | None = None

    @model_validator(mode="after")
    def _readable(self) -> Intent:
        for name in self.words:
            if not re.fullmatch(r"[a-z_]+", name):
                raise ValueError(f"words: class name {name!r}: lower-case letters and _ only")
        try:
            classes = class_words(self.words)
            for part in (self.complaint, self.unclear_purpose):
                for phrase in part.phrases() if part is not None else ():
                    read(phrase, classes)
        except PatternError as exc:
            raise ValueError(str(exc)) from exc
        return self
