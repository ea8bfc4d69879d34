"""The forms a forbidden phrase is heard in, derived from the phrase's own words.

Agents seldom say a phrase as the norm writes it, and a variant written by hand for every
rewording covers the rewordings its author thought of. Instead, every phrase (and variant) of a
lexicon entry is cut into its jieba words, and its forms follow from what each word is:

- **a short word slipped in**: between two of its words, up to :data:`INSERT_GAP` characters of
  anything, :data:`INSERT_BUDGET` in all per match, fewer for short forms (:func:`allowed`): 我也
  不知道, 你们到底想怎么样, 有意见就找领导去. Never a negation, nor a modal verb right after the
  phrase's negation (不要挂机), nor a verb right before it (我听不清楚): those say something else
  (``align.align`` checks what was slipped in);
- **a word left out**: a modal particle (吗 呢 吧 …, freely: :data:`MODAL`), or a function word
  — a structural particle (的 了 过 着), an adverb of scope or degree (也 都 就 很 …), the copula
  是, the measure word 个 (:data:`FUNCTION_WORDS`); not 还, 又, 才, 再, whose time is the point
  (还不挂机, 怎么还问, 现在才说); the head noun of a compound (销售人员 → 销售); the addressee with
  its preposition (刚才跟你说过了 → 刚才说过了); the addressee opening a curt question, where the
  rest still names the fault (有完没完, 到底想怎么样; :data:`BARE_REST`) — never 我 (我不清楚
  without 我 is 不太清楚, said of anything);
- **a word contracted**: a two-character verb, adverb, time word or adjective said as its first
  character (刚才 → 刚, 记住 → 记, 知道 → 知), a two-character word said as its second where that
  makes a word with the one before (没 + 办法 → 没法: jieba's dictionary says so), a grammatical
  word said the colloquial way (怎么 / 咋, 什么 / 啥, 没有 / 没: :data:`COLLOQUIAL`);
- **another order**: the topic or addressee said last (有完没完你, 怎么签的这合同), a closing tag
  question said first (行不行你小声点), two neighbouring words swapped (到底你想怎么样), the two
  clauses of a two-clause phrase swapped (我问谁,你问我);
- **by sound**: every form of three characters or more is matched by sound (each character of
  the text read as its readings, :mod:`app.engine.phonetic`), so a homophone on any character is
  the phrase — once per reworded form (:func:`allowed`).

What carries the meaning is never left out nor contracted: a negation (不 没 别 无 非 未 …). A
form makes at most :data:`MAX_CHANGES` changes, keeps :data:`KEEP_SHARE` of the phrase's
characters and at least :data:`DERIVED_MIN`; a derived form shorter than
:data:`SOUND_MIN_DERIVED` is matched on its characters only.

Gapped patterns (``有意见{0,3}找领导``) are the lexicon author's own tolerance and are matched as
written (by sound), without derived forms. The phrases that qualify a forbidden one (allow,
soften) are heard by sound, said colloquially and with words slipped in, never shorter
(``full=False``); an allow phrase with an emphatic adverb slipped in excuses nothing
(:data:`EMPHATIC`): 我不知道您的 excuses 我们不知道您的新地址, not a blunt 我都不知道你的事.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import jieba
import jieba.posseg

from app.engine.native import Gap
from app.engine.patterns import Pattern, clauses, expand, slashes

jieba.setLogLevel(60)

#: Characters of anything between two words of a phrase, and in all per match: a pronoun, an
#: adverb, 自己, 什么, 这边 — a word slipped in, not a clause.
INSERT_GAP = 2
INSERT_BUDGET = 3
#: The room between two words.
_SLIP = Gap(0, INSERT_GAP, True)
#: Changes (a word left out, contracted or said colloquially; the order changed) per form.
MAX_CHANGES = 2
#: A derived form keeps at least this share of the phrase's characters (and three).
KEEP_SHARE = 0.6
#: A subject pronoun may be left out only when the rest has this many characters (and a word
#: that is not a function word: 到底想怎么样, 有完没完, not 怎么这样).
BARE_REST = 4
#: The shortest derived form: three characters left of a longer phrase are too often other
#: words (就是你的错 without 就是 is 你的错, inside 不是你的错).
DERIVED_MIN = 4
#: Derived forms shorter than this are matched on characters only.
SOUND_MIN_DERIVED = 4
#: The shortest phrase matched by sound, or given any derived form.
SOUND_MIN = 3

NEGATIONS: frozenset[str] = frozenset("不没别无非未莫甭")
#: Emphatic adverbs: slipped into an allow phrase, they make the phrase it would excuse blunter,
#: not ordinary (我都不知道你在说什么 is no 我不知道您是否方便).
EMPHATIC: frozenset[str] = frozenset("真都也就还又确根本实在完全压")
#: Modal verbs: after a negation, one slipped in says something else (不要挂机, 不用管).
MODAL_VERBS: frozenset[str] = frozenset("要用会能想可必需应该敢肯愿")
#: Forms shorter than this may not be both heard by sound and have words slipped in.
LOOSE_MIN = 5
#: Modal particles: left out freely (a change that costs nothing), as are the words jieba tags
#: as modal particles (y), interjections (e) and onomatopoeia (o).
MODAL = frozenset("吗呢吧呀嘛啦啊哦")
_MODAL_TAGS = ("y", "e", "o")
#: Function words that may be left out (one change each) without changing what the phrase
#: says: structural particles (and what jieba tags u*), adverbs of scope and degree, the
#: copula, the measure word.
FUNCTION_WORDS = frozenset("的地得了过着也都就很真可是个") | {"就是"}
#: Prepositions whose phrase with the addressee (跟你, 和你) may be left out as one word:
#: 刚才跟你说过了 is 刚才说过了 (not 跟我: 跟我没关系 is not 没关系).
_PREPOSITIONS = frozenset("跟和给对向同")
_FUNCTION_TAGS = ("u",)
#: Pronouns, never contracted nor said colloquially.
PRONOUNS = frozenset({"你", "你们", "我", "我们", "他", "他们", "她", "它", "咱", "咱们"})
#: The addressee, which a curt question may leave out where the rest says enough (有完没完,
#: 到底想怎么样). Not 我: without it, 我不清楚 and 我没办法 are 不太清楚 and 没有办法, said of
#: anything (听不太清楚, 系统没有办法).
ADDRESSEES = frozenset({"你", "你们"})
#: Grammatical words and their colloquial equivalents, said interchangeably in service talk:
#: each said as any other of its group.
COLLOQUIAL: tuple[tuple[str, ...], ...] = (
    ("怎么样", "咋样", "怎样"),
    ("怎么", "咋", "怎"),
    ("为什么", "为啥"),
    ("干什么", "干嘛", "干啥", "干吗"),
    ("什么", "啥"),
    ("没有", "没"),
    ("不要", "别"),
    ("知道", "晓得"),
    ("刚才", "刚刚"),
    ("这个", "这"),
    ("一点", "点"),
    ("跟", "和", "同"),
)


#: A gap written into a form's steps as one character of the private-use area (forms are many:
#: a string of them is a fraction of a tuple of one-character strings and gap tuples).
_GAP_MARK = 0xE000


def _mark(gap: Gap) -> str:
    return chr(_GAP_MARK + (gap.counts << 12) + (gap.low << 6) + gap.high)


def step_of(char: str) -> str | Gap:
    """A character of :attr:`Form.steps` as the step it stands for: itself, or a gap."""
    code = ord(char) - _GAP_MARK
    if not 0 <= code < 0x2000:
        return char
    return Gap((code >> 6) & 0x3F, code & 0x3F, bool(code >> 12))


@dataclass(frozen=True, slots=True)
class Form:
    """One form of a phrase, as the sound automaton walks it."""

    #: Characters and gaps, in order, as a string: a gap is one mark (:func:`step_of`).
    steps: str
    #: Its characters (no gaps).
    text: str
    #: What a hit of it names (``Hit.pattern``): the pattern's label for the phrase as written,
    #: the form's words joined by ``…`` for a derived one.
    label: str
    #: Not the phrase as written: a word left out, contracted, said colloquially, reordered.
    derived: bool
    #: Whether it may be matched by sound (else by its characters only).
    sound: bool

    @property
    def length(self) -> int:
        """The most characters a match of it can span."""
        gaps = [s for s in self.items if isinstance(s, Gap)]
        free = sum(s.high for s in gaps if not s.counts)
        budgeted = sum(s.high for s in gaps if s.counts)
        return len(self.text) + free + min(budgeted, INSERT_BUDGET)

    @property
    def items(self) -> tuple[str | Gap, ...]:
        """The steps: characters and gaps."""
        return tuple(step_of(c) for c in self.steps)


@lru_cache(maxsize=8192)
def _words(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((w.word, w.flag) for w in jieba.posseg.cut(text, HMM=False))


#: The parts of speech (jieba's tags) whose two-character words contract to their first
#: character: verbs, adverbs, time words, adjectives — not nouns (态度 is never 态).
_CONTRACTING_TAGS = ("v", "d", "t", "a")


#: How often jieba's dictionary must have seen a contraction for it to be a word (没法 980; its
#: dictionary also holds rarities such as 个度, 3).
_WORD_FREQ = 100


def _is_word(text: str) -> bool:
    jieba.dt.check_initialized()
    return (jieba.dt.FREQ.get(text) or 0) >= _WORD_FREQ


def _NOUNISH(word: str) -> bool:
    """Whether a word is a noun (or a verbal noun) that a following noun may be the head of."""
    return any(w == word and f.startswith(("n", "vn")) for w, f in _words(word))


def _options(word: str, flag: str, before: str | None, full: bool) -> list[tuple[str, int]]:
    """What a word may be said as, and what each costs in changes (0: as written); with
    ``full`` false, only its colloquial equivalents. ``before``: the word before it (None: it
    is the first)."""
    options = [(word, 0)]
    for group in COLLOQUIAL:
        for member in group:
            # a one-character member only as a word of its own (怎 is in 怎么, 没 in 没用)
            if word == member or (len(member) > 1 and member in word):
                options += [
                    (word.replace(member, other, 1), 1) for other in group if other != member
                ]
    if not full:
        return options
    negation = any(c in NEGATIONS for c in word)
    if not negation and (word in MODAL or flag.startswith(_MODAL_TAGS)):
        options.append(("", 0))
    elif not negation and (word in FUNCTION_WORDS or flag.startswith(_FUNCTION_TAGS)):
        options.append(("", 1))
    elif before is None and word in ADDRESSEES:
        options.append(("", 1))
    elif before is not None and flag.startswith("n") and _NOUNISH(before):
        options.append(("", 1))  # the head of a compound: 销售人员 is 销售
    if len(word) == 2 and not negation and word not in PRONOUNS and flag != "r":
        if flag.startswith(_CONTRACTING_TAGS):
            options.append((word[0], 1))
        if before and _is_word(before[-1] + word[1]):
            options.append((word[1], 1))
    seen: set[str] = set()
    return [(w, c) for w, c in options if not (w in seen or seen.add(w))]  # type: ignore[func-returns-value]


Words = tuple[tuple[str, str], ...]
#: Parts of speech that say what a phrase is about (not a pronoun, particle, adverb,
#: conjunction or preposition): a phrase left without its subject must keep one.
_FUNCTION_POS = ("r", "u", "y", "e", "o", "d", "c", "p")
#: Tag questions (A 不 A) that may open the phrase instead of closing it (行不行你小声点).
_TAG = "不"
#: Question words, which open a question and stay there (谁告诉你的).
_INTERROGATIVES = frozenset({"谁", "怎么", "什么", "哪", "哪里", "为什么", "啥", "咋", "干嘛"})
#: Demonstratives, said last together with the noun they go with (怎么签的这合同).
_DEMONSTRATIVES = frozenset({"这", "那", "这个", "那个", "这种", "那种", "这项", "这点"})


def _orders(words: Words) -> list[Words]:
    """The phrase's words in the other orders it is said in: its topic or addressee (a pronoun
    or noun phrase that opens it, not 我) said last (有完没完你, 怎么签的这合同); a closing tag
    question said first (行不行你小声点)."""
    out: list[Words] = []
    lead = 0
    if (
        len(words) >= 2
        and words[0][1].startswith(("r", "n"))
        and words[0][0] not in ("我", "我们")
        and words[0][0] not in _INTERROGATIVES
    ):
        lead = 2 if words[0][0] in _DEMONSTRATIVES and len(words) > 2 else 1
    if lead and sum(len(w) for w, _ in words[lead:]) >= SOUND_MIN:
        out.append(words[lead:] + words[:lead])
    last = words[-1][0] if words else ""
    if len(words) >= 2 and len(last) == 3 and last[1] == _TAG and last[0] == last[2]:
        out.append(words[-1:] + words[:-1])
    for i in range(len(words) - 1):  # two neighbouring words the other way round
        a, b = words[i], words[i + 1]
        if len(words) >= 3 and _swappable(a, b):
            out.append(words[:i] + (b, a) + words[i + 2 :])
    return out


#: Single characters that are words of their own whichever phrase they are in: a word may be
#: slipped in beside them (我也不知道, 不关我的事). Two other single characters in a row are
#: taken for one word jieba could not name (a name, a rare word) and left together.
_LONE_WORDS = PRONOUNS | NEGATIONS | FUNCTION_WORDS | MODAL | _PREPOSITIONS


def _room_between(before: str, after: str) -> bool:
    """Whether a short word may be slipped in between two words of a phrase."""
    return len(before) > 1 or len(after) > 1 or before in _LONE_WORDS or after in _LONE_WORDS


def _swappable(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """Whether two neighbouring words may change places: neither a negation (不想 is not 想不),
    a particle (which goes where it goes) nor a question word (我知道怎么 is not 我怎么知道); a
    pronoun only with an adverb (到底你想怎么样)."""
    for word, flag in (a, b):
        if any(c in NEGATIONS for c in word) or word in _INTERROGATIVES or "怎" in word:
            return False
        if flag.startswith(("u", "y", "e", "o")):
            return False
    if len(a[0]) == 1 and len(b[0]) == 1:
        return False  # two characters, not two words: a phrase jieba cannot cut into words
    pronouns = [flag.startswith("r") for _, flag in (a, b)]
    if any(pronouns):
        return not all(pronouns) and any(flag.startswith("d") for _, flag in (a, b))
    return True


def _said(words: Words, full: bool) -> list[tuple[Words, bool]]:
    """Every way of saying ``words`` with at most MAX_CHANGES changes (another order is one):
    the words said, and whether the subject pronoun was left out."""
    out: list[tuple[Words, bool]] = []

    def walk(order: Words, choices: list[list[tuple[str, int]]], cost: int) -> None:
        def step(i: int, said: Words, cost: int, bare: bool) -> None:
            if i == len(choices):
                out.append((said, bare))
                return
            flag = order[i][1]
            for word, extra in choices[i]:
                if cost + extra <= MAX_CHANGES:
                    dropped = not word and i == 0 and extra > 0
                    said_now = (*said, (word, flag)) if word else said
                    step(i + 1, said_now, cost + extra, bare or dropped)
            if (  # a preposition and its pronoun, left out together
                order[i][0] in _PREPOSITIONS
                and i + 1 < len(order)
                and order[i + 1][0] in ADDRESSEES
                and cost < MAX_CHANGES
            ):
                step(i + 2, said, cost + 1, bare)

        step(0, (), cost, False)

    orders = [(words, 0)] + ([(order, 1) for order in _orders(words)] if full else [])
    for order, cost in orders:
        choices = [
            _options(w, f, order[i - 1][0] if i else None, full) for i, (w, f) in enumerate(order)
        ]
        walk(order, choices, cost)
    return out


def _literal_forms(text: str, sound: bool, full: bool) -> list[Form]:
    """The forms of a literal (gapless) normalized phrase."""
    if len(text) < SOUND_MIN:
        return [Form(text, text, text, False, False)]
    words = _words(text)
    written = tuple(w for w, _ in words)
    forms: list[Form] = []
    for said_words, bare in _said(words, full):
        said = tuple(w for w, _ in said_words)
        joined = "".join(said)
        derived = said != written
        if derived and (len(joined) < DERIVED_MIN or len(joined) < KEEP_SHARE * len(text)):
            continue
        if bare and (
            len(joined) < BARE_REST
            or all(flag.startswith(_FUNCTION_POS) or w in FUNCTION_WORDS for w, flag in said_words)
        ):
            continue  # the subject left out: the rest must still say what the fault is
        steps: list[str] = []
        for k, word in enumerate(said):
            if k and _room_between(said[k - 1], word):
                steps.append(_mark(_SLIP))
            steps.append(word)
        forms.append(
            Form(
                "".join(steps),
                joined,
                "…".join(said) if derived else text,
                derived,
                sound and (len(joined) >= SOUND_MIN_DERIVED or not derived),
            )
        )
    return forms


def pattern_form(pattern: Pattern, sound: bool) -> Form:
    """A pattern as written: its parts' characters, its gaps free; by sound if ``sound``."""
    steps = [pattern.parts[0]]
    for (low, high), part in zip(pattern.gaps, pattern.parts[1:], strict=True):
        steps.append(_mark(Gap(low, high, False)))
        steps.append(part)
    text = "".join(pattern.parts)
    return Form("".join(steps), text, pattern.label, False, sound)


def derive(phrase: str, sound: bool = True, full: bool = True) -> list[Form]:
    """Every form of ``phrase`` (the pattern syntax of :mod:`app.engine.patterns`), each once.
    ``sound``: whether the entry may be matched by sound at all. ``full`` false: only words
    slipped in and colloquial equivalents, never a word left out nor another order (for the
    phrases that qualify a forbidden one — an allow phrase said shorter would excuse the
    phrase itself). Raises :class:`app.engine.patterns.PatternError` as :func:`expand` does."""
    phrase = slashes(phrase)
    parts = clauses(phrase)
    orders = ["".join(parts)]
    if full and len(parts) == 2:  # two clauses: either may come first
        orders.append(parts[1] + parts[0])
    forms: dict[str, Form] = {}
    for n, order in enumerate(orders):
        for pattern in expand(order):
            if not pattern.literal:
                found = [pattern_form(pattern, sound and len("".join(pattern.parts)) >= SOUND_MIN)]
            else:
                found = _literal_forms(pattern.parts[0], sound, full)
            for form in found:
                if n:  # the clauses swapped: a reordering
                    form = Form(
                        form.steps,
                        form.text,
                        form.label,
                        True,
                        form.sound and len(form.text) >= SOUND_MIN_DERIVED,
                    )
                known = forms.get(form.steps)
                if known is None or (known.derived and not form.derived):
                    forms[form.steps] = form
    return list(forms.values())


def allowed(form: Form) -> tuple[int, int]:
    """How many characters a hit of ``form`` may have slipped in between its words, and how
    many of its characters may be heard only by sound once it is reworded or has words slipped
    in: the shorter the form, the fewer (three characters with two slipped in, or two
    sound-alikes, are any three syllables in a row). Said as written and whole, a phrase of four
    characters or more may be misheard on any of them."""
    length = len(form.text)
    if length < SOUND_MIN:
        insertions = 0
    elif length == SOUND_MIN:
        insertions = 0 if form.derived else 1
    elif length == SOUND_MIN + 1:
        insertions = 1 if form.derived else 2
    else:
        insertions = INSERT_BUDGET
    homophones = 0 if not form.sound else 1 if length < 8 else 2
    return insertions, homophones


#: Verbs that may come before a negation as a word slipped in: the emphatic copula and 可
#: (我是不知道, 我可不知道).
_EMPHATIC = frozenset({"是", "可"})


def makes_a_complement(slipped: str) -> bool:
    """Whether words slipped in right before a negation are a verb, which turns the negation
    into its complement: 我听不清楚 (cannot hear clearly) is not 我不清楚, nor 我看不懂 我不懂 —
    unlike an adverb (我也不清楚, 我确实不知道). By jieba's dictionary tags: the slipped word's,
    or its first character's."""
    if not slipped or slipped in _EMPHATIC:
        return False
    jieba.dt.check_initialized()
    tags = jieba.posseg.dt.word_tag_tab
    tag = tags.get(slipped) or tags.get(slipped[0]) or ""
    return bool(tag.startswith("v")) and slipped[0] not in _EMPHATIC
