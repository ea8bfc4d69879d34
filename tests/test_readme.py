"""The README's rule table lists every rule the scripts and the lexicon have."""

from __future__ import annotations

import re

from app.scripts.loader import load_library
from tests.corpus.build import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def table_rules() -> set[str]:
    section = README[README.index("### The rules") :]
    section = section[: section.index("\n\n", section.index("| rule |"))]
    rules: set[str] = set()
    for line in section.splitlines()[2:]:
        if line.startswith("| "):
            rules.update(re.findall(r"`([a-z_]+\.[a-z_.<>]+)`", line.split(" | ")[0]))
    return rules


def script_rules() -> set[str]:
    library = load_library(ROOT / "scripts_data")
    rules = {"greeting.wrong_time", "greeting.late", "greeting.missing"}
    rules |= {"closing.missing", "rating.missing", "situation.no_response"}
    for script in library.scripts.values():
        rules |= {p.rule for p in script.prompts}
        rules |= {s.rule for s in script.situations}
        rules |= set(script.prompt_alerts)
        behaviour = script.behaviour
        for name in type(behaviour).model_fields:
            rule = getattr(behaviour, name)
            if rule is not None:
                rules.add(rule.rule)
        if script.work_no is not None:
            rules.add(script.work_no.rule)
    return rules


def test_every_rule_is_in_the_readme_table() -> None:
    listed = table_rules()
    assert "forbidden.<category>" in listed
    assert script_rules() - listed == set()
    assert listed - script_rules() - {"forbidden.<category>"} == set()
