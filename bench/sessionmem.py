"""What the engine's session of one idle call keeps: bytes per :class:`CallSession`.

For each script of ``scripts_data``, ``count`` sessions are made as the service makes one on a
call's ``start`` (the setup from the start message's fields, the wall clock now, the default
bounds, everything kept in memory) and given the ``answered`` event the load client sends next;
then they stay, idle. ``tracemalloc`` counts what the process holds after them less what it held
before (a few calls first, untraced, fill the one-off caches: jieba, the matchers, time zones).
Deterministic: a fixed wall clock, no I/O, the same inputs every run.

Where the bytes are, two ways:

- ``by_line``: tracemalloc's allocation sites. The compiled engine (mypyc) has no Python frames,
  so its allocations land on the nearest Python line (the bench's own); ``make pure`` (the
  engine interpreted) shows the engine's lines.
  tracemalloc names the line that first allocated a block: a dict or list taken from
  CPython's free lists keeps the site of the object it was before (a pydantic ``deepcopy``).
- ``by_field``: one session walked from its attributes (an engine object's fields by name, a
  container's items), each object it holds that another session of the script does not hold
  too counted once, under the first field that reaches it, with ``sys.getsizeof`` (an object's
  own bytes, not the allocator's rounding). What sessions share (the script, the phrase index,
  the matchers, small ints and interned strings) drops out.
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from collections import Counter
from pathlib import Path
from types import BuiltinFunctionType, FunctionType, MethodType, ModuleType
from typing import Any

from pydantic import BaseModel

from app.calls.schemas import CallFields
from app.engine import normalize, phonetic, prompts
from app.engine.compiled import CompiledScript
from app.engine.messages import CallEvent
from app.engine.outbox import DEFAULT_BOUNDS, KEEP_ALL
from app.engine.session import CallSession
from app.scripts.loader import load_library

ROOT = Path(__file__).resolve().parents[1]
#: The calls' wall clock (epoch ms): a weekday morning in Asia/Shanghai, not a holiday.
NOW = 1_795_312_980_000
#: The start message of the load client's calls (``bench/client.py``), for each script.
START = {"call_type": "consult", "agent": {"id": "A1", "work_no": "1001"}}
WARM = 20


def start_call(compiled: CompiledScript, call_id: str) -> CallSession:
    """A call as the service starts it (``CallService.create``), then answered."""
    fields = CallFields.model_validate({"script": compiled.script.id, **START})
    setup = fields.setup(call_id, "Asia/Shanghai")
    session = CallSession(compiled, setup, NOW, DEFAULT_BOUNDS, KEEP_ALL)
    session.handle(CallEvent("answered"), NOW)
    return session


def _fields(obj: Any) -> list[str] | None:
    """The attribute names of an object of the engine's own classes (compiled, slotted or
    not); None for any other object."""
    if not type(obj).__module__.startswith("app.engine."):
        return None
    names: list[str] = []
    for cls in type(obj).__mro__:
        names += getattr(cls, "__mypyc_attrs__", ())
        slots = cls.__dict__.get("__slots__", ())
        names += [slots] if isinstance(slots, str) else list(slots)
    if hasattr(obj, "__dict__"):
        names += list(vars(obj))
    return list(dict.fromkeys(n for n in names if n not in ("__dict__", "__weakref__")))


#: Where a walk stops: what a session refers to but never owns.
SHARED = (BaseModel, CompiledScript, type, ModuleType, FunctionType, BuiltinFunctionType)


def _bound(obj: Any) -> bool:
    """Whether ``obj`` is a method bound to an object (a compiled one's is a builtin)."""
    if isinstance(obj, MethodType):
        return True
    return isinstance(obj, BuiltinFunctionType) and not isinstance(
        obj.__self__, ModuleType | type(None)
    )


def reached(session: CallSession) -> dict[int, tuple[str, Any]]:
    """Every object reached from ``session`` (an engine object's fields by name, a container's
    items), by id, with the path of the first field that reaches it, breadth first; the
    script, its models and the compiled index are not entered."""
    found: dict[int, tuple[str, Any]] = {}
    queue: list[tuple[str, Any]] = [("CallSession", session)]
    while queue:
        following: list[tuple[str, Any]] = []
        for path, obj in queue:
            if id(obj) in found:
                continue
            if _bound(obj):  # a bound method held (a callback): counted, its object reached
                found[id(obj)] = (path, obj)
                continue
            if isinstance(obj, SHARED):
                continue
            found[id(obj)] = (path, obj)
            names = _fields(obj)
            if names is None:
                following += [(path, item) for item in gc.get_referents(obj)]
                continue
            for name in names:
                value = getattr(obj, name, None)
                if value is None or value is not getattr(obj, name):
                    continue  # a compiled field held unboxed (an int, a tuple): in the object
                following.append((name if path == "CallSession" else f"{path}.{name}", value))
        queue = following
    return found


def by_field(session: CallSession, other: CallSession) -> Counter[str]:
    """Bytes (``sys.getsizeof``) of the objects ``session`` holds and ``other`` (a session of
    the same script) does not: what one session costs, by the field that holds it."""
    theirs = reached(other)
    owned: Counter[str] = Counter()
    for key, (path, obj) in reached(session).items():
        if key not in theirs:
            owned[path] += sys.getsizeof(obj)
    return owned


def measure(compiled: CompiledScript, count: int) -> dict[str, Any]:
    for n in range(WARM):
        start_call(compiled, f"warm-{n}")
    kept: list[CallSession | None] = [None] * count
    gc.collect()
    tracemalloc.start(1)
    before = tracemalloc.take_snapshot()
    for n in range(count):
        kept[n] = start_call(compiled, f"c-{n}")
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    first, second = kept[0], kept[1]
    assert first is not None and second is not None
    fields = by_field(first, second)
    lines = after.compare_to(before, "lineno")
    total = sum(stat.size_diff for stat in lines)
    del kept
    return {
        "bytes_per_session": round(total / count, 1),
        "by_line": [
            {
                "site": f"{stat.traceback[0].filename.removeprefix(str(ROOT) + '/')}:"
                f"{stat.traceback[0].lineno}",
                "bytes_per_session": round(stat.size_diff / count, 1),
                "blocks_per_session": round(stat.count_diff / count, 2),
            }
            for stat in lines[:12]
            if stat.size_diff > 0
        ],
        "by_field": {
            path: size for path, size in sorted(fields.items(), key=lambda kv: (-kv[1], kv[0]))
        },
        "by_field_total": sum(fields.values()),
    }


def run(count: int = 2000) -> dict[str, Any]:
    normalize.warm_up()
    phonetic.warm_up()
    prompts.warm_up()
    library = load_library(ROOT / "scripts_data")
    engine_file = sys.modules[CallSession.__module__].__file__ or ""
    results: dict[str, Any] = {
        "sessions": count,
        "engine": "compiled" if engine_file.endswith(".so") else "interpreted",
    }
    for script_id in sorted(library.scripts):
        script = library.scripts[script_id]
        compiled = CompiledScript(script, library.lexicon_for(script))
        results[script_id] = measure(compiled, count)
    return results
