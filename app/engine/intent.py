"""What the customer means: a complaint, or a purpose not yet said.

A complaint is recognised from how customers say it, not from the word 投诉 alone (002
客户代表服务项目—投诉): demanding an explanation or compensation, threatening to go to a
supervisor, a regulator or the press, strong dissatisfaction with how a problem was handled.
The script's ``intent.complaint`` gives the cues, each with a weight, and the words that take a
cue back: a denial (我不是要投诉), someone else's complaint or a question about the complaint
channel (帮朋友问投诉电话), a past complaint the customer says is settled (上次投诉的已经解决了).

An unclear purpose (002 当询问客户目的时) is an utterance that opens a request or greets and says
nothing else (喂你好, 我想问一下, 我有个事): the agent should ask which business it is about. Where
the script's cues leave it alone, a learned model may still call it unclear, unless the utterance
names a business topic (``unclear_purpose.topics``: 流量, 携号转网): the model weighs an opener,
not that a purpose follows it. With ``unclear_purpose.coverage``, a purpose not said is unclear
too: an utterance that opens, names no topic, says no answer or thanks (``said``), holds no
complaint cue that weighs or was taken back, and is made of such words for that share of its
characters, the rest being the caller's own story (喂 我刚从医院回来 想问问). There the learned
complaint model must be surer (``learned.unsaid_complaint``): it reads 你们 and 给我 as grievances.

:class:`IntentModel` is built once per script version; :meth:`IntentModel.judge` reads one
final utterance of the customer. Clauses are the utterance's punctuation (or the pauses an ASR
writes as spaces) and the script's break words (但是, 不过): a denial holds only inside its
clause, so 我不是投诉, 我就想知道凭什么扣钱 is still a demand, and so is 啥也没修 这算什么事.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from app.engine.cues import Cues, Found
from app.engine.intent_spec import ComplaintIntent, Intent
from app.engine.learned import LearnedIntent, LinearIntent, features, packaged
from app.engine.normalize import Normalized, normalize
from app.engine.purpose import PurposeCues

#: Punctuation that ends a clause in the text as the ASR wrote it (normalization drops it). White
#: space between Chinese words ends one too: it is how an ASR without punctuation marks a pause.
CLAUSE_ENDS = frozenset("，,。.！!？?；;：:、…~～—\n")


@dataclass(frozen=True, slots=True)
class Judged:
    """What one utterance says of the customer's intent."""

    complaint: bool = False
    #: The cues that counted, as ``kind “words”`` (for the call_type event's reason).
    reasons: tuple[str, ...] = ()
    score: float = 0.0
    unclear_purpose: bool = False


NOTHING = Judged()


#: What a phrase of the complaint section is there for (the value it carries when found).
_CUE, _NEGATOR, _RHETORICAL, _PAST, _SETTLED, _UNRESOLVED = range(6)
_THIRD_PARTY, _TOPIC, _NEUTRAL, _ASKING, _COMMITTING, _HYPOTHETICAL, _BREAK = range(6, 13)
_PRAISE, _ELSEWHERE, _JOINING, _RIVAL = 13, 14, 15, 16


class _Complaint:
    """The complaint section of a script, compiled into one automaton: every phrase of it is
    found in one scan of the utterance, each carrying its role."""

    def __init__(self, spec: ComplaintIntent, words: Mapping[str, tuple[str, ...]]) -> None:
        self.spec = spec
        entries: list[tuple[str, tuple[int, str, float]]] = [
            (phrase, (_CUE, cue.kind, cue.weight)) for cue in spec.cues for phrase in cue.phrases
        ]
        for role, phrases in (
            (_NEGATOR, spec.negators),
            (_RHETORICAL, spec.rhetorical),
            (_PAST, spec.past),
            (_SETTLED, spec.settled),
            (_UNRESOLVED, spec.unresolved),
            (_THIRD_PARTY, spec.third_party),
            (_TOPIC, spec.topic),
            (_NEUTRAL, spec.neutral),
            (_ASKING, spec.asking),
            (_COMMITTING, spec.committing),
            (_HYPOTHETICAL, spec.hypothetical),
            (_BREAK, spec.breaks),
            (_PRAISE, spec.praise),
            (_ELSEWHERE, spec.elsewhere),
            (_JOINING, spec.joining),
            (_RIVAL, spec.rivals),
        ):
            entries.extend((phrase, (role, "", 0.0)) for phrase in phrases)
        self.cues: Cues[tuple[int, str, float]] = Cues(entries, words)
        self.caps = {cue.kind: cue.cap for cue in spec.cues if cue.cap is not None}
        self.askable = frozenset(spec.askable)
        self.aimable = frozenset(spec.aimable)
        self.ironic = frozenset(spec.ironic)
        # the company's words: scanned only where a culprit is named beside an aimable cue
        self.company: Cues[bool] = Cues([(p, True) for p in spec.carrier], words)

    def _aimed_elsewhere(
        self, text: str, culprits: list[Found], clauses: _Clauses
    ) -> frozenset[int] | None:
        """Where someone other than the company is named as the culprit (快递, 骗子): the
        clauses that name the company (``None``: the culprits are the company's). A company
        word inside a culprit's words is theirs (冒充你们客服), and a culprit in a clause that
        names the company is the company (你们这是诈骗)."""
        found = self.company.find(text) if self.company else []
        company = frozenset(
            clauses.of(c.start)
            for c in found
            if not any(e.start <= c.start and c.end <= e.end for e in culprits)
        )
        if all(clauses.of(e.start) in company for e in culprits):
            return None
        return company

    def judge(self, norm: Normalized) -> tuple[float, tuple[str, ...], bool]:
        """The weight of the complaint cues that count in ``norm``, what they are, and whether
        a cue was taken back (denied, someone else's, about the channel, past and settled)."""
        text = norm.text
        found = self.cues.find(text)
        by_role: list[list[Found]] = [[] for _ in range(_RIVAL + 1)]
        for hit in found:
            by_role[hit.value[0]].append(hit)
        if not by_role[_CUE]:
            return 0.0, (), False
        if by_role[_THIRD_PARTY]:
            return 0.0, (), True
        if by_role[_PRAISE] and all(hit.value[1] != "explicit" for hit in by_role[_CUE]):
            return 0.0, (), True  # praise of someone (表扬, 五星): its words are no grievance
        # The same words read as two cues (三天了: a duration, a repetition) count once, as
        # the heavier.
        heaviest: dict[tuple[int, int], Found] = {}
        for hit in by_role[_CUE]:
            held = heaviest.get((hit.start, hit.end))
            if held is None or hit.value[2] > held.value[2]:
                heaviest[(hit.start, hit.end)] = hit
        hits = [hit for hit in by_role[_CUE] if heaviest[(hit.start, hit.end)] is hit]
        # a caller coming over (转到你们): no threat to leave, and a rival named is a culprit
        joining = by_role[_JOINING]
        neutral = [*by_role[_NEUTRAL], *joining] if joining else by_role[_NEUTRAL]
        # a neutral word is one word: no clause begins inside it (处理结果 is no 结果, "then")
        breaks = [b for b in by_role[_BREAK] if not any(w.start < b.start < w.end for w in neutral)]
        clauses = _Clauses(norm, breaks)
        topics = by_role[_TOPIC]
        # a negator inside a neutral phrase is part of it (话还没说完她就给我挂了: no denial)
        negators = [
            n
            for n in by_role[_NEGATOR]
            if not any(w.start <= n.start and n.end <= w.end for w in neutral)
        ]
        rhetorical = {clauses.of(h.start) for h in by_role[_RHETORICAL]}
        pasts = by_role[_PAST]
        # a settling word inside an ironic cue is part of it (真是谢谢你们了), and an unresolved
        # word inside a settling phrase part of that (这事就过去了)
        settled = by_role[_SETTLED]
        if settled:
            ironic = [h for h in hits if h.value[1] in self.ironic]
            if ironic:
                settled = [
                    s
                    for s in settled
                    if not any(h.start <= s.start and s.end <= h.end for h in ironic)
                ]
        unresolved = any(
            not any(s.start <= u.start and u.end <= s.end for s in settled)
            for u in by_role[_UNRESOLVED]
        )
        culprits = [*by_role[_ELSEWHERE], *by_role[_RIVAL]] if joining else by_role[_ELSEWHERE]
        aim: frozenset[int] | None = None
        aim_asked = False
        asking = by_role[_ASKING]
        asks = bool(asking)
        committing = by_role[_COMMITTING]
        hypothetical = by_role[_HYPOTHETICAL]
        window = self.spec.negation_window
        by_kind: dict[str, float] = {}
        counted: dict[str, float] = {}
        reasons: list[str] = []
        taken_back = False
        for hit in hits:
            _, kind, weight = hit.value
            if hit.phrase in counted:
                continue
            if any(t.start <= hit.start and hit.end <= t.end for t in topics):
                taken_back = True
                continue  # about complaining, not complaining
            if any(w.start < hit.end <= w.end or w.start < hit.start < w.end for w in neutral):
                continue  # its word means something else here (客户经理介绍过来: no 经理 summoned)

            def clause(hit: Found = hit) -> int:
                """The cue's clause (asked only where a denial, a past or a question is)."""
                return clauses.of(hit.start)

            def committed(since: int, hit: Found = hit) -> bool:
                """Whether the customer commits to the cue (我要, 我就去) from ``since`` on in
                its clause, with no asking word (想问) between."""
                return any(
                    since <= c.start <= hit.start
                    and clauses.of(c.start) == clauses.of(hit.start)
                    and not any(c.start < a.start and a.end <= hit.start for a in asking)
                    for c in committing
                )

            if culprits and kind in self.aimable:
                if not aim_asked:
                    aim, aim_asked = self._aimed_elsewhere(text, culprits, clauses), True
                if aim is not None and clause() not in aim:
                    taken_back = True
                    continue  # aimed at someone else (快递把我手机摔坏了 气死我了)
            if asks and kind in self.askable and not committed(0):
                taken_back = True
                continue  # a question about the channel, not a use of it
            if asks and any(
                h.end <= hit.start and clauses.of(h.start) == clause() and not committed(h.end)
                for h in hypothetical
            ):
                taken_back = True
                continue  # a question about what would be (如果不满意可以找谁)
            if (
                any(
                    n.start < hit.start
                    and n.end <= hit.end
                    and hit.start - n.end <= window
                    and clauses.of(n.start) == clause()
                    for n in negators
                )
                and clause() not in rhetorical
            ):
                taken_back = True
                continue  # denied
            factor = 1.0
            if not unresolved:
                past = any(p.end <= hit.start and clauses.of(p.start) == clause() for p in pasts)
                if any(
                    (s.start >= hit.start and (past or clauses.of(s.start) == clause()))
                    or (s.start <= hit.start and hit.end <= s.end)
                    for s in settled
                ):
                    # a past matter, or one in the same breath, said to be settled (后来给我退了:
                    # the settling words may hold the cue)
                    taken_back = True
                    continue
                if past:
                    factor = self.spec.past_factor
            counted[hit.phrase] = weight * factor
            by_kind[kind] = by_kind.get(kind, 0.0) + weight * factor
            reasons.append(f"{kind} “{text[hit.start : hit.end]}”")
        score = sum(min(total, self.caps.get(kind, total)) for kind, total in by_kind.items())
        return score, tuple(reasons), taken_back


class _Thresholds(NamedTuple):
    """The probabilities the learned model must give (``learned`` in the script; 1: never)."""

    complaint: float = 1.0
    unclear_purpose: float = 1.0
    #: a complaint where nothing is said yet
    unsaid_complaint: float = 1.0
    #: an unclear purpose where the words say nothing is said (0: the words alone)
    unsaid_purpose: float = 0.0
    #: a complaint where no need is said
    needless_complaint: float = 1.0


class IntentModel:
    """A script's intent recognition, built once per script version and shared by its calls.

    ``learned`` replaces the packaged model the script names (``intent.learned.model``): the
    trainer judges held-out files with the weights of each fold."""

    def __init__(self, spec: Intent | None, learned: LearnedIntent | None = None) -> None:
        words = spec.words if spec is not None else {}
        self._complaint = (
            _Complaint(spec.complaint, words)
            if spec is not None and spec.complaint is not None
            else None
        )
        self._purpose = (
            PurposeCues(spec.unclear_purpose, words)
            if spec is not None and spec.unclear_purpose is not None
            else None
        )
        use = spec.learned if spec is not None else None
        self._learned_complaint: LinearIntent | None = None
        self._learned_purpose: LinearIntent | None = None
        self._at = _Thresholds()
        if use is not None:
            model = learned if learned is not None else packaged(use.model)
            if use.complaint is not None and self._complaint is not None:
                self._learned_complaint = model.labels["complaint"]
            if use.unclear_purpose is not None:
                self._learned_purpose = model.labels["unclear_purpose"]
            complaint = use.complaint or 1.0
            self._at = _Thresholds(
                complaint=complaint,
                unclear_purpose=use.unclear_purpose or 1.0,
                unsaid_complaint=max(use.unsaid_complaint or complaint, complaint),
                unsaid_purpose=use.unsaid_purpose or 0.0,
                needless_complaint=max(use.needless_complaint or complaint, complaint),
            )

    def judge(self, text: str, norm: Normalized | None = None, purpose: bool = True) -> Judged:
        """What the customer's final ``text`` (as the ASR wrote it; ``norm``, its
        normalization, if already made) says of their intent; whether the purpose is unclear
        only if asked (``purpose``: the call still wants to know it)."""
        asks_purpose = purpose and (self._purpose is not None or self._learned_purpose is not None)
        if self._complaint is None and not asks_purpose:
            return NOTHING
        norm = norm if norm is not None else normalize(text)
        if not norm.text:
            return NOTHING
        grams: set[str] | None = None
        score, taken_back, weighs = 0.0, False, False
        if self._complaint is not None:
            score, reasons, taken_back = self._complaint.judge(norm)
            if score >= self._complaint.spec.threshold:
                return Judged(True, reasons, score)
            # half a complaint: a cue of weight (累死, 跟我说), not 你们 alone
            weighs = score >= self._complaint.spec.threshold / 2
        # whether a topic or an answer is said: looked for only where it decides (most finals
        # neither open a call nor look like an opening to the purpose model); None: not yet
        said: bool | None = None if self._purpose is not None else False
        unsaid = needless = False
        unclear: float | None = None  # the purpose model's probability, once asked
        if purpose and self._purpose is not None:
            # an utterance made only of openers and generic words says nothing the complaint
            # model could weigh against the company (营业厅的人让我打10086, 我老婆让我打的): the
            # purpose cues are asked before it
            opener, share, returned = self._purpose.returned(norm.text)
            # a contact of the company's returned, and little else said (收到你们一条短信 让我回
            # 个电话): it opens the call, and the purpose model is not asked (below)
            notice = returned >= self._purpose.notice_coverage
            if notice:
                opener, share = True, returned
            if opener and share == 1.0:
                topic, answer = self._purpose.says(norm.text)
                if not answer:
                    return Judged(unclear_purpose=True)
                said = True
            # nothing said yet either: no topic, no complaint cue that weighs or was taken back,
            # and mostly such words around the caller's own story (我刚从医院回来, 我老头子不识字)
            coverage = self._purpose.coverage
            unsaid = (
                coverage is not None
                and share >= coverage
                and opener
                and not (said or taken_back or weighs)
            )
            # or no need at all (no request, no question, no problem), however long the story
            # (我们家那口子去年走了以后 我就一个人住): a weak cue of a hard day does not say one
            needless = not (said or taken_back) and self._purpose.needless(norm.text)
            if unsaid or needless:
                topic, answer = self._purpose.says(norm.text)
                said = topic or answer
                unsaid = unsaid and not said
                needless = needless and not said
            if (
                unsaid
                and not needless
                and not notice
                and self._learned_purpose is not None
                and self._at.unsaid_purpose > 0.0
            ):
                # the words name nothing the topics know; the purpose model must not rule out an
                # opening: to it a request whose object the topics lack (麻烦帮我查一下附近的营业厅)
                # reads as the purpose said that it is; a caller returning the company's contact
                # (收到你们一条短信 让我回个电话) has asked for nothing
                grams = features(norm.text)
                unclear = self._learned_purpose.probability(grams)
                unsaid = unclear >= self._at.unsaid_purpose
        if self._complaint is not None:
            learned = self._learned_complaint
            # the model adds what the cues missed, never what they took back
            if learned is not None and not taken_back:
                grams = grams if grams is not None else features(norm.text)
                # it reads 你们 and 给我 as grievances (你们之前给我打过电话 我没接着), and a hard
                # day told at length as one: where nothing is said yet it must be surer
                at = self._at
                needed = (
                    at.unsaid_complaint
                    if unsaid
                    else at.needless_complaint
                    if needless
                    else at.complaint
                )
                if learned.probability(grams) >= needed:
                    explained = ", ".join(f"“{g}”" for g in learned.explain(grams))
                    return Judged(True, (f"learned {explained}",), score)
        if not purpose:
            return NOTHING
        if unsaid or needless:
            return Judged(unclear_purpose=True)
        # the model reads openers, not what follows them: a topic said vetoes it
        if self._learned_purpose is not None and said is not True:
            if unclear is None:
                grams = grams if grams is not None else features(norm.text)
                unclear = self._learned_purpose.probability(grams)
            if unclear >= self._at.unclear_purpose:
                if said is None and self._purpose is not None:
                    topic, answer = self._purpose.says(norm.text)
                    said = topic or answer
                if not said:
                    return Judged(unclear_purpose=True)
        return NOTHING

    def judge_within(
        self, text: str, norm: Normalized, max_chars: int, purpose: bool = True
    ) -> Judged:
        """:meth:`judge`, reading at most ``max_chars`` characters of ``text``: a longer text is
        judged by its start and its end, ``max_chars // 2`` characters each (what its
        speaker opens with, what they end on). It is a complaint if either is; its purpose is
        unclear only if neither says it."""
        if len(text) <= max_chars:
            return self.judge(text, norm, purpose)
        half = max(max_chars // 2, 1)
        head = self.judge(text[:half], None, purpose)
        if head.complaint:
            return head
        tail = self.judge(text[-half:], None, purpose)
        if tail.complaint:
            return tail
        if head.unclear_purpose and tail.unclear_purpose:
            return head
        return NOTHING


class _Clauses:
    """The clauses of one utterance, worked out on the first question: most utterances have
    no word whose reach a clause limits (a denial, a past, a question), and finding the clauses
    of a text with punctuation or pauses maps it back to the text as written."""

    __slots__ = ("_norm", "_breaks", "_starts")

    def __init__(self, norm: Normalized, breaks: list[Found]) -> None:
        self._norm = norm
        self._breaks = breaks
        self._starts: list[int] | None = None

    def of(self, position: int) -> int:
        """The index of the clause that the normalized ``position`` falls in."""
        if self._starts is None:
            self._starts = _clause_starts(self._norm, self._breaks)
        return _clause_of(self._starts, position)


def _clause_starts(norm: Normalized, breaks: list[Found]) -> list[int]:
    """Where each clause of ``norm`` begins (normalized offsets, increasing): after
    punctuation or a pause in the text as written, and at each break word."""
    starts = {0}
    raw = norm.raw
    pauses = [k for k, c in enumerate(raw) if c in CLAUSE_ENDS or c.isspace()]
    if pauses:
        offsets = norm.offsets
        for k in pauses:
            # the first normalized character after the mark (the mark itself is dropped)
            i = bisect_right(offsets, k)
            if 0 < i < len(offsets) and (
                raw[k] in CLAUSE_ENDS or not _word_gap(raw[offsets[i - 1]], raw[offsets[i]])
            ):
                starts.add(i)
    starts.update(b.start for b in breaks)
    return sorted(starts)


def _word_gap(before: str, after: str) -> bool:
    """Whether white space between ``before`` and ``after`` only separates two words of Latin
    script or digits (``5 G``, ``139 1234``) rather than marking a pause: an ASR writes a pause
    in Chinese speech as a space where it writes no punctuation."""
    return before.isascii() and after.isascii()


def _clause_of(starts: list[int], position: int) -> int:
    """The index of the clause that ``position`` falls in."""
    clause = 0
    for k, start in enumerate(starts):
        if start <= position:
            clause = k
    return clause
