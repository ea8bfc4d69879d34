"""The engine runs compiled (setup.py), and what runs is what the sources say."""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: The modules setup.py has mypyc compile (read from it: running it would build them).
COMPILED = re.findall(r'"app/engine/(\w+)\.py"', (ROOT / "setup.py").read_text())


def test_setup_compiles_the_fragment_path() -> None:
    assert set(COMPILED) >= {"matcher", "normalize", "session"}


@pytest.mark.parametrize("name", COMPILED)
def test_compiled_modules_are_built_from_their_current_source(name: str) -> None:
    module = importlib.import_module(f"app.engine.{name}")
    built = Path(module.__file__ or "")
    source = ROOT / "app" / "engine" / f"{name}.py"
    if os.environ.get("HUASHU_PURE_PYTHON") == "1":
        assert built.suffix == ".py"
        return
    assert built.suffix == ".so", (
        f"{name} is not compiled: make setup (or, after make pure, set HUASHU_PURE_PYTHON=1)"
    )
    assert built.stat().st_mtime >= source.stat().st_mtime, (
        f"{built.name} is older than {source.name}: the old code would run; reinstall"
    )


def test_the_native_pass_is_built_from_its_current_source() -> None:
    scan = importlib.import_module("app.engine._scan")
    built = Path(scan.__file__ or "")
    assert built.stat().st_mtime >= (ROOT / "app" / "engine" / "_scan.c").stat().st_mtime
