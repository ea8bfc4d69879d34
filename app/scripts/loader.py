"""Load and validate the script library from a directory of YAML files.

Layout: ``<dir>/scripts/*.yaml`` (one script each) and ``<dir>/lexicons/*.yaml`` (one lexicon
each, named by a script's ``lexicon`` field). Any problem stops loading with a
:class:`ScriptLoadError` whose message reads ``file: path.to.field: reason``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from app.engine.lexicon import Lexicon, merge_lexicons
from app.engine.script import Script

M = TypeVar("M", bound=BaseModel)


class ScriptLoadError(Exception):
    """A script file that cannot be used; the message names file, field path and reason."""


@dataclass(frozen=True)
class Library:
    scripts: dict[str, Script]
    lexicons: dict[str, Lexicon]

    def lexicon_for(self, script: Script) -> Lexicon | None:
        """The script's lexicons as one (``merge_lexicons``)."""
        return merge_lexicons([self.lexicons[i] for i in script.lexicon_ids])


def _format_errors(path: Path, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top)"
        lines.append(f"{path}: {where}: {item['msg']}")
    return "\n".join(lines)


def parse_model(model: type[M], data: Any, path: Path) -> M:
    """Validate one parsed document, or raise ScriptLoadError naming the file and field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ScriptLoadError(_format_errors(path, exc)) from None


#: libyaml's safe loader where PyYAML was built with it (the same documents, ten times faster
#: than the pure-Python one: a second of every start), else the pure-Python one.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise ScriptLoadError(f"{path}: (yaml): {exc}".replace("\n", " ")) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptLoadError(f"{path}: (file): {exc}") from None


def load_library(root: Path) -> Library:
    """Read every lexicon and script under ``root``; fail on the first bad file."""
    if not root.is_dir():
        raise ScriptLoadError(f"{root}: (dir): the scripts directory does not exist")
    lexicons: dict[str, Lexicon] = {}
    for path in sorted((root / "lexicons").glob("*.yaml")):
        lexicon = parse_model(Lexicon, _read_yaml(path), path)
        if lexicon.id != path.stem:
            raise ScriptLoadError(f"{path}: id: must equal the file name {path.stem!r}")
        lexicons[lexicon.id] = lexicon
    scripts: dict[str, Script] = {}
    for path in sorted((root / "scripts").glob("*.yaml")):
        script = parse_model(Script, _read_yaml(path), path)
        if script.id != path.stem:
            raise ScriptLoadError(f"{path}: id: must equal the file name {path.stem!r}")
        for field, ids in (("lexicon", (script.lexicon,)), ("lexicons", script.lexicons)):
            for lexicon_id in ids:
                if lexicon_id is not None and lexicon_id not in lexicons:
                    raise ScriptLoadError(
                        f"{path}: {field}: no lexicon {lexicon_id!r} under lexicons/"
                    )
        try:
            merged = merge_lexicons([lexicons[i] for i in script.lexicon_ids])
        except ValueError as exc:
            raise ScriptLoadError(f"{path}: lexicons: {exc}") from None
        check_references(script, merged, path)
        scripts[script.id] = script
    if not scripts:
        raise ScriptLoadError(f"{root}: (dir): no scripts under scripts/")
    return Library(scripts=scripts, lexicons=lexicons)


def check_references(script: Script, lexicon: Lexicon | None, path: Path | str) -> None:
    """Cross-file checks: a lexicon entry's ``suggest`` must name one of the script's situations."""
    if lexicon is None:
        return
    situations = {s.rule for s in script.situations}
    for i, entry in enumerate(lexicon.entries):
        if entry.suggest is not None and entry.suggest not in situations:
            raise ScriptLoadError(
                f"{path}: lexicon {lexicon.id}.entries.{i}.suggest: "
                f"{entry.suggest!r} is not a situation of this script"
            )
