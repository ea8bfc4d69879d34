"""Shared for the offline check's tests: the compiled library, the bundled sample calls, and
the real SereTOD calls read in place (their tests fail, not skip, when they are absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.check.runner import load_scripts
from app.engine.compiled import CompiledScript

ROOT = Path(__file__).resolve().parents[2]
CALLS = ROOT / "tests" / "data" / "calls"
ENGINE_CALLS = ROOT / "tests" / "data" / "engine-calls"
SERETOD = ROOT.parent / "shared" / "data" / "real" / "SereTOD2022"


@pytest.fixture(scope="session")
def scripts() -> dict[str, CompiledScript]:
    return load_scripts(ROOT / "scripts_data")


@pytest.fixture(scope="session")
def seretod() -> Path:
    assert SERETOD.is_dir(), f"the real SereTOD calls are expected at {SERETOD} (shared/data/real)"
    return SERETOD
