"""``huashu lexicon check FILE``: what a lexicon's entries would do, before it goes live.

For each entry of the lexicon in FILE, compiled with a script of the library (its situations,
its 催挂 rule) and no other lexicon:

- **false-alarm risk**: what it fires on in compliant speech — the corpora of compliant agent
  utterances given (``--compliant``, one utterance a line, the last tab-separated column of a
  TSV), else the project's own corpus found beside the repository — and in real call-centre text
  (``--real``, else ``../shared/data/real`` beside the repository: the SereTOD agent turns and
  the STC-3 helpdesk turns), with the sentences;
- **recall**: how many of its generated forms it catches — as written (alone, without
  punctuation, inside a sentence, split over two segments), noisy (a homophone, fillers, a
  stutter, traditional characters, spaces) and reworded (a short word slipped between its
  words, a particle after it, its clauses swapped). A ``whole_utterance`` entry is tried on its
  own, and must stay quiet inside an ordinary sentence.

The exit status is 1 when an entry fires on more than ``--max-rate`` of the utterances of a
compliant source (or the lexicon cannot be read), else 0. What was read is said first. Nothing
is read at import: the corpora are read when the check runs.
"""

from __future__ import annotations

import json
import random
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TextIO

import yaml

from app.engine.compiled import CompiledScript
from app.engine.lexicon import Lexicon, LexiconEntry
from app.engine.offline import check_segments
from app.engine.patterns import CLAUSE_MARKS, clauses, expand, slashes
from app.engine.script import Script

#: The repository this module is in (its corpus and ../shared are found beside it, if there).
REPO = Path(__file__).resolve().parents[1]
DEFAULT_COMPLIANT = REPO / "tests" / "corpus" / "compliant.tsv"
DEFAULT_REAL = REPO.parent / "shared" / "data" / "real"
#: An entry firing on more than this share of a compliant source's utterances fails the check
#: (the issue's target for the whole lexicon is 0.5 %; one entry should take far less of it).
MAX_RATE = 0.002
#: Words slipped into a phrase to reword it, and said after it.
_SLIPPED = ("也", "真的", "都", "确实", "这边", "自己")
_AFTER = ("吧", "呢", "啊，")
_FILLERS = ("嗯，", "呃", "那个")


@dataclass
class Source:
    """Compliant utterances from one place."""

    name: str
    where: str
    utterances: list[str]


@dataclass
class EntryReport:
    entry: LexiconEntry
    #: Source name → the utterances it fired on.
    fired: dict[str, list[str]] = field(default_factory=dict)
    #: Form kind → (caught, generated), and the generated forms it missed.
    recall: dict[str, list[int]] = field(default_factory=dict)
    missed: list[tuple[str, str]] = field(default_factory=list)
    #: For a whole_utterance entry: the ordinary sentences around it that it fired in.
    inside: list[str] = field(default_factory=list)

    def rate(self, source: Source) -> float:
        return len(self.fired.get(source.name, [])) / max(len(source.utterances), 1)


# --- reading ---------------------------------------------------------------------------------


def read_lexicon(path: Path) -> Lexicon:
    """The lexicon in ``path``; raises ValueError naming the file, field and reason."""
    from app.scripts.loader import ScriptLoadError, parse_model

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: (file): {exc}".replace("\n", " ")) from None
    try:
        return parse_model(Lexicon, data, path)
    except ScriptLoadError as exc:
        raise ValueError(str(exc)) from None


def read_lines(path: Path) -> list[str]:
    """One utterance a line: the last tab-separated column, blank lines left out."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t")[-1].strip() for line in lines if line.strip()]


def seretod_agent_turns(real: Path) -> Iterator[str]:
    """Agent turns (``[SPEAKER 1]``) of the SereTOD 10086 calls."""
    for path in sorted((real / "SereTOD2022").glob("mobilecs_example_*.json")):
        for dialog in json.loads(path.read_text(encoding="utf-8")):
            turns = dialog["content"] if isinstance(dialog, dict) else dialog
            for turn in turns:
                text = turn.get("[SPEAKER 1]", "")
                if text and text.strip():
                    yield text


def stc3_helpdesk_turns(real: Path) -> Iterator[str]:
    """Helpdesk turns of the STC-3 Weibo dialogues (train and test), read from the zip."""
    with zipfile.ZipFile(real / "stc3-dataset" / "stc3_cn_json.zip") as archive:
        for name in sorted(archive.namelist()):
            if not name.endswith(".json"):
                continue
            for dialog in json.loads(archive.read(name)):
                for turn in dialog["turns"]:
                    if turn["sender"] != "helpdesk":
                        continue
                    text = "".join(u for u in turn["utterances"] if u).strip()
                    if text:
                        yield text


def sources(compliant: list[Path], real: Path | None) -> list[Source]:
    """The compliant sources to check against: those given, else those beside the repository
    (none of ``tests/independent``: its sentences are not to be read while tuning)."""
    out: list[Source] = []
    paths = compliant or ([DEFAULT_COMPLIANT] if DEFAULT_COMPLIANT.is_file() else [])
    for path in paths:
        if "independent" in path.resolve().parts:
            raise ValueError(f"{path}: the independent set is not read by this tool")
        out.append(Source(path.name, str(path), read_lines(path)))
    real = real if real is not None else DEFAULT_REAL if DEFAULT_REAL.is_dir() else None
    if real is not None:
        if (real / "SereTOD2022").is_dir():
            turns = list(seretod_agent_turns(real))
            out.append(Source("seretod_agent", str(real / "SereTOD2022"), turns))
        if (real / "stc3-dataset" / "stc3_cn_json.zip").is_file():
            turns = list(stc3_helpdesk_turns(real))
            out.append(Source("stc3_helpdesk", str(real / "stc3-dataset"), turns))
    return out


# --- generated forms -------------------------------------------------------------------------


def _common(char: str) -> bool:
    """A character of GB2312 level 1 (the 3,755 commonest): what ASR writes."""
    try:
        code = char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return len(code) == 2 and 0xB0 <= code[0] <= 0xD7


@lru_cache(maxsize=1)
def _homophones() -> dict[str, list[str]]:
    """Toneless syllable → the common characters read so."""
    from pypinyin import Style, lazy_pinyin

    chars = [chr(c) for c in range(0x4E00, 0x9FA6) if _common(chr(c))]
    readings = lazy_pinyin(chars, style=Style.NORMAL, errors=lambda _: "?")
    table: dict[str, list[str]] = {}
    for char, reading in zip(chars, readings, strict=True):
        table.setdefault(reading, []).append(char)
    return table


def _readings(entry: LexiconEntry) -> list[str]:
    """The phrase as an agent would say it: its first few literal readings, punctuation kept
    between clauses (a gap of a pattern read as nothing)."""
    out = []
    for clause_set in _clause_readings(entry.phrase)[:3]:
        out.append("，".join(clause_set))
    return out


def _clause_readings(phrase: str) -> list[list[str]]:
    parts = [
        [p.parts[0] if p.literal else "".join(p.parts) for p in expand(c)]
        for c in clauses(slashes(phrase))
    ]
    readings: list[list[str]] = [[]]
    for options in parts:
        readings = [r + [o] for r in readings for o in options[:2]]
    return readings


def generated(entry: LexiconEntry, rng: random.Random) -> dict[str, list[list[str]]]:
    """Forms to try, by kind; each a list of consecutive segments (one, or two for a split)."""
    import jieba
    import opencc

    kinds: dict[str, list[list[str]]] = {"as_written": [], "noisy": [], "reworded": []}
    s2t = opencc.OpenCC("s2t")
    homophones = _homophones()
    for reading in _readings(entry):
        plain = "".join(c for c in reading if c not in CLAUSE_MARKS)
        if entry.whole_utterance:
            kinds["as_written"] += [[reading + "。"], [plain], ["嗯，" + plain + "！"]]
        else:
            cut = max(len(plain) // 2, 1)
            kinds["as_written"] += [
                [reading],
                [plain],
                [f"好的，{reading}，您看可以吗"],
                [plain[:cut], plain[cut:]],
            ]
        hanzi = [i for i, c in enumerate(plain) if "\u4e00" <= c <= "\u9fff"]
        if hanzi:
            from pypinyin import Style, lazy_pinyin

            i = rng.choice(hanzi)
            (syllable,) = lazy_pinyin(plain[i], style=Style.NORMAL)
            others = [c for c in homophones.get(syllable, []) if c != plain[i]]
            if others:
                kinds["noisy"].append([plain[:i] + rng.choice(others) + plain[i + 1 :]])
        half = len(plain) // 2
        kinds["noisy"] += [
            [rng.choice(_FILLERS) + plain[:half] + "啊" + plain[half:]],
            [plain[0] + plain],
            [s2t.convert(plain)],
            [" ".join(plain[i : i + 2] for i in range(0, len(plain), 2))],
        ]
        words = jieba.lcut(plain, HMM=False)
        for k in range(1, len(words)):
            if words[k - 1][-1] in "不没别":  # 不真的可以 is no rewording
                continue
            slipped = rng.choice(_SLIPPED)
            kinds["reworded"].append(["".join(words[:k]) + slipped + "".join(words[k:])])
        kinds["reworded"].append([plain + rng.choice(_AFTER)])
        parts = reading.split("，")
        if len(parts) == 2:
            kinds["reworded"].append([parts[1] + "，" + parts[0]])
    return kinds


# --- the check -------------------------------------------------------------------------------


def _entry_of(compiled: CompiledScript, alert: dict[str, Any]) -> list[int]:
    """The entries an alert may be of (by its phrase and category)."""
    lexicon = compiled.lexicon
    assert lexicon is not None
    return [
        i
        for i, entry in enumerate(lexicon.entries)
        if entry.phrase == alert.get("phrase") and alert["rule"] == f"forbidden.{entry.category}"
    ]


def _forbidden(compiled: CompiledScript, segments: list[str]) -> list[dict[str, Any]]:
    return [a for a in check_segments(compiled, segments) if a["category"] == "forbidden"]


def check(
    lexicon: Lexicon, script: Script, checked: list[Source], seed: int = 13
) -> list[EntryReport]:
    """The report of every entry of ``lexicon`` (see the module docstring)."""
    compiled = CompiledScript(script, lexicon)
    reports = [EntryReport(entry) for entry in lexicon.entries]
    for source in checked:
        for text in source.utterances:
            for alert in _forbidden(compiled, [text]):
                for i in _entry_of(compiled, alert):
                    fired = reports[i].fired.setdefault(source.name, [])
                    if not fired or fired[-1] != text:
                        fired.append(text)
    rng = random.Random(seed)
    for i, report in enumerate(reports):
        for kind, forms in generated(report.entry, rng).items():
            counts = report.recall.setdefault(kind, [0, 0])
            for segments in forms:
                counts[1] += 1
                if any(i in _entry_of(compiled, a) for a in _forbidden(compiled, segments)):
                    counts[0] += 1
                else:
                    report.missed.append((kind, "|".join(segments)))
        if report.entry.whole_utterance:
            for reading in _readings(report.entry)[:1]:
                for sentence in (
                    f"{reading}的话我帮您看看别的办法",
                    f"这个{reading}，我再帮您问问",
                ):
                    if any(i in _entry_of(compiled, a) for a in _forbidden(compiled, [sentence])):
                        report.inside.append(sentence)
    return reports


def failing(reports: list[EntryReport], checked: list[Source], max_rate: float) -> list[str]:
    """The entries over ``max_rate`` in some source, as 'phrase (source rate)'."""
    out = []
    for report in reports:
        for source in checked:
            rate = report.rate(source)
            if rate > max_rate:
                out.append(f"{report.entry.phrase} ({source.name} {rate:.2%})")
    return out


def write_report(
    out: TextIO,
    reports: list[EntryReport],
    checked: list[Source],
    max_rate: float,
    show: int,
) -> None:
    for number, report in enumerate(reports):
        entry = report.entry
        flags = [
            name
            for name, on in (
                ("whole_utterance", entry.whole_utterance),
                ("softened", bool(entry.softened_by)),
                ("not reworded", not entry.reworded),
                ("not by sound", not entry.phonetic),
            )
            if on
        ]
        out.write(f"\n[{number}] {entry.phrase}  ({entry.category}{', ' if flags else ''}")
        out.write(", ".join(flags) + ")\n")
        for source in checked:
            fired = report.fired.get(source.name, [])
            verdict = "  OVER" if report.rate(source) > max_rate else ""
            out.write(
                f"  fires on {source.name}: {len(fired)}/{len(source.utterances)} "
                f"({report.rate(source):.2%}){verdict}\n"
            )
            for text in fired[:show]:
                out.write(f"      {text[:100]}\n")
        recall = "  ".join(f"{kind} {c}/{n}" for kind, (c, n) in report.recall.items())
        out.write(f"  recall: {recall}\n")
        for kind, text in report.missed[:show]:
            out.write(f"      missed {kind}: {text}\n")
        for sentence in report.inside:
            out.write(f"  fires inside an ordinary sentence (whole_utterance): {sentence}\n")


def run(
    path: Path,
    script_id: str,
    scripts_dir: Path,
    compliant: list[Path],
    real: Path | None,
    max_rate: float,
    show: int,
    out: TextIO,
    err: TextIO,
) -> int:
    """The check, written to ``out``; the exit status."""
    from app.scripts.loader import ScriptLoadError, check_references, load_library

    try:
        lexicon = read_lexicon(path)
        library = load_library(scripts_dir)
        script = library.scripts.get(script_id)
        if script is None:
            raise ValueError(f"{scripts_dir}: no script {script_id!r} ({sorted(library.scripts)})")
        check_references(script, lexicon, path)
        checked = sources(compliant, real)
    except (ValueError, ScriptLoadError, OSError) as exc:
        err.write(f"{exc}\n")
        return 1
    out.write(f"lexicon {lexicon.id}: {len(lexicon.entries)} entries, from {path}\n")
    out.write(
        f"compiled with script {script.id} (its situations and 催挂 rule, no other lexicon)\n"
    )
    if not checked:
        out.write("no compliant text found: give --compliant FILE or --real DIR\n")
    for source in checked:
        count = len(source.utterances)
        out.write(f"compliant source {source.name}: {count} utterances ({source.where})\n")
    out.write(f"an entry fails above {max_rate:.2%} of a source's utterances\n")
    reports = check(lexicon, script, checked)
    write_report(out, reports, checked, max_rate, show)
    over = failing(reports, checked, max_rate)
    if over:
        out.write(f"\nFAIL: {len(over)} over {max_rate:.2%}: " + "; ".join(over) + "\n")
        return 1
    out.write("\nok: no entry fires on compliant speech above the threshold\n")
    return 0
