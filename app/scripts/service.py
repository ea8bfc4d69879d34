"""The script library: the shared national norms and each tenant's own scripts and lexicons,
every version kept, and what calls run on.

A tenant sees its own documents and the shared ones (its own shadow a shared one of the same
id); the open service (no API keys) has only the shared library. ``PUT`` validates a document
and stores it as the next version; a call runs on the versions that were latest when it
started (its :class:`Pins`), whatever is put after. Compiling a script is dear (its phrase
index), so compiled scripts are kept, the most recently used :data:`COMPILED_KEPT`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError

from app.engine.compiled import CompiledScript
from app.engine.lexicon import Lexicon, merge_lexicons
from app.engine.script import Script
from app.errors import InvalidMessage, NotFound
from app.ops.quotas import TooMany
from app.scripts.loader import Library, ScriptLoadError, check_references
from app.scripts.repository import SHARED, Document, DocumentRepository, Kind

log = logging.getLogger(__name__)

#: Compiled scripts kept in memory (each is a phrase index: a few MB for a large lexicon).
COMPILED_KEPT = 64


@dataclass(frozen=True, slots=True)
class Pins:
    """The exact documents a call runs on: (owner tenant, id, version) of its script and of
    each of its lexicons, in order. Stored with the call, so a call rebuilt after a restart
    runs on them again."""

    script: tuple[str, str, int]
    lexicons: tuple[tuple[str, str, int], ...]

    def to_json(self) -> dict[str, Any]:
        return {"script": list(self.script), "lexicons": [list(p) for p in self.lexicons]}

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Pins:
        owner, doc_id, version = body["script"]
        return cls(
            (str(owner), str(doc_id), int(version)),
            tuple((str(o), str(i), int(v)) for o, i, v in body["lexicons"]),
        )


T = TypeVar("T")


class ScriptLibrary:
    def __init__(self, documents: DocumentRepository) -> None:
        self._documents = documents
        #: Compilations run one at a time, in a thread of their own: each holds the
        #: interpreter's lock a switch interval at a time, and several at once (a client
        #: asking for dry runs in parallel) would leave the live calls' event loop a fraction
        #: of it.
        self._compiler = ThreadPoolExecutor(max_workers=1, thread_name_prefix="huashu-compile")
        #: Tenants with a dry run under way: one each (a dry run compiles).
        self._checking: set[str | None] = set()
        self._compiled: OrderedDict[Pins, CompiledScript] = OrderedDict()
        #: Compilations under way, so that calls starting together on a new version wait for
        #: one compilation rather than each making its own.
        self._compiling: dict[Pins, asyncio.Future[CompiledScript]] = {}
        #: The lexicons each script version names (a version never changes): reading them from
        #: the script's body means validating all of it, on every call started.
        self._lexicon_ids: OrderedDict[tuple[str, str, int], tuple[str, ...]] = OrderedDict()

    async def seed(self, files: Library) -> int:
        """Put the library read from ``scripts_data/`` into the shared library: each document
        that is not there yet, or differs from its latest shared version, becomes a new
        version. Returns how many were stored."""
        stored = 0
        kinds: list[tuple[Kind, dict[str, Any]]] = [
            ("lexicon", {i: lexicon for i, lexicon in files.lexicons.items()}),
            ("script", {i: script for i, script in files.scripts.items()}),
        ]
        for kind, documents in kinds:
            for doc_id, model in documents.items():
                body = model.model_dump(mode="json")
                latest = await self._documents.latest(kind, SHARED, doc_id)
                if latest is None or _without_version(latest.body) != _without_version(body):
                    await self._documents.put(kind, SHARED, doc_id, body)
                    stored += 1
        return stored

    # -- reading ---------------------------------------------------------------------------

    async def find(
        self, kind: Kind, tenant: str | None, doc_id: str, version: int | None = None
    ) -> Document:
        """The tenant's own document, else the shared one (``version``: that one, else the
        latest). Raises NotFound (``unknown_script`` / ``unknown_lexicon``)."""
        for owner in _owners(tenant):
            if version is None:
                found = await self._documents.latest(kind, owner, doc_id)
            else:
                found = await self._documents.get(kind, owner, doc_id, version)
            if found is not None:
                return found
        what = f" version {version}" if version is not None else ""
        raise NotFound(f"no {kind} {doc_id!r}{what}", code=f"unknown_{kind}")

    async def all(self, kind: Kind, tenant: str | None) -> list[Document]:
        """The latest version of every document the tenant sees, its own over shared ones."""
        seen: dict[str, Document] = {}
        for owner in reversed(_owners(tenant)):
            for document in await self._documents.all_latest(kind, owner):
                seen[document.id] = document
        return [seen[doc_id] for doc_id in sorted(seen)]

    async def script(
        self, tenant: str | None, script_id: str, version: int | None = None
    ) -> Script:
        return Script.model_validate((await self.find("script", tenant, script_id, version)).body)

    async def lexicon(
        self, tenant: str | None, lexicon_id: str, version: int | None = None
    ) -> Lexicon:
        body = (await self.find("lexicon", tenant, lexicon_id, version)).body
        return Lexicon.model_validate(body)

    async def compiled(self, tenant: str | None, script_id: str) -> tuple[CompiledScript, Pins]:
        """The latest version of the script the tenant sees, with the latest of its lexicons,
        compiled; and the pins a call on it keeps."""
        script = await self.find("script", tenant, script_id)
        lexicons = []
        for lexicon_id in self._lexicons_of(script):
            lexicon = await self.find("lexicon", script.tenant or tenant, lexicon_id)
            lexicons.append((lexicon.tenant, lexicon.id, lexicon.version))
        pins = Pins((script.tenant, script.id, script.version), tuple(lexicons))
        return await self.compiled_at(pins), pins

    async def warm(self) -> int:
        """Compile the latest version of every shared script now (start-up calls this before
        the service says it is ready), so that the first calls after a start or a deploy do
        not wait for it. Returns how many were compiled; a script that cannot be compiled is
        logged and left for its first call to report."""
        warmed = 0
        for document in await self._documents.all_latest("script", SHARED):
            try:
                await self.compiled(None, document.id)
            except (NotFound, ValidationError, ValueError) as exc:
                log.warning("script %s not compiled at start-up: %s", document.id, exc)
                continue
            warmed += 1
        return warmed

    def is_compiled(self, pins: Pins) -> bool:
        return pins in self._compiled

    async def compiled_at(self, pins: Pins) -> CompiledScript:
        """The script and lexicons of ``pins``, compiled (kept for the next call).

        A compilation takes a third of a second and more (the automata, the derived forms):
        made in a worker thread, it leaves the event loop to the live calls (the thread holds
        the interpreter's lock only a switch interval at a time), where made in line it would
        stall every call for as long, at the first call of each new script version."""
        compiled = self._compiled.get(pins)
        if compiled is not None:
            self._compiled.move_to_end(pins)
            return compiled
        pending = self._compiling.get(pins)
        if pending is None:
            pending = asyncio.ensure_future(self._compile(pins))
            self._compiling[pins] = pending
            pending.add_done_callback(lambda _: self._compiling.pop(pins, None))
        return await asyncio.shield(pending)

    async def _compile(self, pins: Pins) -> CompiledScript:
        owner, script_id, version = pins.script
        script = Script.model_validate(
            (await self._exact("script", owner, script_id, version)).body
        )
        lexicons = [
            Lexicon.model_validate((await self._exact("lexicon", o, i, v)).body)
            for o, i, v in pins.lexicons
        ]
        compiled = await self._in_compiler(CompiledScript, script, merge_lexicons(lexicons))
        self._compiled[pins] = compiled
        while len(self._compiled) > COMPILED_KEPT:
            self._compiled.popitem(last=False)
        return compiled

    async def dry_run(self, tenant: str | None, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` (a dry run that compiles) in the compiling thread, one at a time
        per tenant: a second while the first is under way is refused (``too_many_checks``),
        so that one client cannot queue compilations ahead of every other tenant's."""
        if tenant in self._checking:
            raise TooMany(
                "a dry run of this tenant is under way: send the next when it has answered",
                code="too_many_checks",
            )
        self._checking.add(tenant)
        try:
            return await self._in_compiler(work, *args)
        finally:
            self._checking.discard(tenant)

    async def _in_compiler(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._compiler, work, *args)

    def _lexicons_of(self, script: Document) -> tuple[str, ...]:
        """The lexicon ids a script version names (kept, the most recently used
        :data:`COMPILED_KEPT`)."""
        key = (script.tenant, script.id, script.version)
        ids = self._lexicon_ids.get(key)
        if ids is None:
            ids = self._lexicon_ids[key] = tuple(Script.model_validate(script.body).lexicon_ids)
            while len(self._lexicon_ids) > COMPILED_KEPT:
                self._lexicon_ids.popitem(last=False)
        else:
            self._lexicon_ids.move_to_end(key)
        return ids

    async def _exact(self, kind: Kind, owner: str, doc_id: str, version: int) -> Document:
        found = await self._documents.get(kind, owner, doc_id, version)
        if found is None:
            raise NotFound(f"no {kind} {doc_id!r} version {version}", code=f"unknown_{kind}")
        return found

    # -- writing ---------------------------------------------------------------------------

    async def put_lexicon(self, tenant: str | None, lexicon_id: str, body: Any) -> Document:
        """Validate ``body`` as a lexicon with id ``lexicon_id`` and store it as the tenant's
        next version. Raises InvalidMessage (422) naming the field."""
        lexicon = _validated(Lexicon, body, lexicon_id)
        return await self._put("lexicon", tenant, lexicon_id, lexicon.model_dump(mode="json"))

    async def put_script(self, tenant: str | None, script_id: str, body: Any) -> Document:
        """Validate ``body`` as a script with id ``script_id`` — its lexicons must exist for the
        tenant, and agree — and store it as the tenant's next version. Raises InvalidMessage
        (422) naming the field."""
        script = _validated(Script, body, script_id)
        lexicons = []
        for field, ids in (("lexicon", (script.lexicon,)), ("lexicons", script.lexicons)):
            for n, lexicon_id in enumerate(ids):
                if lexicon_id is None:
                    continue
                try:
                    lexicons.append(await self.lexicon(tenant, lexicon_id))
                except NotFound:
                    where = field if field == "lexicon" else f"{field}.{n}"
                    raise InvalidMessage(f"{where}: no lexicon {lexicon_id!r}") from None
        try:
            check_references(script, merge_lexicons(lexicons), script_id)
        except (ValueError, ScriptLoadError) as exc:
            raise InvalidMessage(f"lexicons: {exc}") from None
        return await self._put("script", tenant, script_id, script.model_dump(mode="json"))

    async def _put(
        self, kind: Kind, tenant: str | None, doc_id: str, body: dict[str, Any]
    ) -> Document:
        """Store as the tenant's next version; a tenant's own version of a shared document is
        numbered after the shared one's, so a version number never goes back for a reader."""
        owner = _owner(tenant)
        after = 0
        if owner != SHARED:
            shared = await self._documents.latest(kind, SHARED, doc_id)
            after = 0 if shared is None else shared.version
        return await self._documents.put(kind, owner, doc_id, body, after)


def _owners(tenant: str | None) -> list[str]:
    """Whose documents a tenant sees, its own first."""
    return [SHARED] if tenant is None else [tenant, SHARED]


def _owner(tenant: str | None) -> str:
    return SHARED if tenant is None else tenant


def _without_version(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "version"}


def _validated(model: type[Script] | type[Lexicon], body: Any, doc_id: str) -> Any:
    if not isinstance(body, dict):
        raise InvalidMessage("the body must be a JSON object")
    if body.get("id", doc_id) != doc_id:
        raise InvalidMessage(f"id: must be {doc_id!r}, the id in the path")
    try:
        return model.model_validate({**body, "id": doc_id})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(body)"
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise InvalidMessage(f"{where}: {first['msg']}{more}") from None
