"""The engine's compiled parts; everything else is in pyproject.toml.

- ``app/engine/_scan.c``: the native pass (fold, automaton walks), hand-written C.
- The engine's per-fragment modules compiled by mypyc (part of mypy): the same Python, checked
  by ``mypy --strict``, as C extension modules, for less server time per fragment than the
  interpreted code (BENCHMARKS.md has the figures). ``HUASHU_PURE_PYTHON=1`` at install leaves
  them interpreted (for a debugger or a profiler that needs Python frames).

An editable install builds both in place: a compiled module is imported before its ``.py``, so
after changing one of the modules below, install again (``make`` does it when any engine source
changes).
"""

import os

from setuptools import Extension, setup

#: The modules a fragment runs through, compiled by mypyc. Every one must type-check strictly;
#: the pydantic models (``document.py``, ``script.py``, ``behaviour_rules.py``, ``lexicon.py``,
#: ``intent_spec.py``)
#: must not be compiled.
COMPILED = [
    "app/engine/alerts.py",
    "app/engine/align.py",
    "app/engine/behaviour.py",
    "app/engine/behaviour_words.py",
    "app/engine/clock.py",
    "app/engine/cues.py",
    "app/engine/index.py",
    "app/engine/matcher.py",
    "app/engine/messages.py",
    "app/engine/normalize.py",
    "app/engine/outbox.py",
    "app/engine/phases.py",
    "app/engine/prompts.py",
    "app/engine/required.py",
    "app/engine/segment.py",
    "app/engine/session.py",
    "app/engine/suggestions.py",
    "app/engine/timeline.py",
    "app/engine/turns.py",
]

extensions = [
    Extension(
        "app.engine._scan",
        sources=["app/engine/_scan.c"],
        extra_compile_args=[
            "-O2",
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Wno-missing-field-initializers",
        ],
    )
]
if os.environ.get("HUASHU_PURE_PYTHON") != "1":
    from mypyc.build import mypycify

    extensions += mypycify(COMPILED, opt_level="3")

setup(ext_modules=extensions)
