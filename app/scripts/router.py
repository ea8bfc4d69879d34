"""The script library over REST: scripts and lexicons, listed, read (any version), replaced
(a new version), and dry-run for script and lexicon authors."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from app.calls.schemas import VERSION_MAX, CheckRequest, LexiconCheckRequest, epoch_ms
from app.deps import KeyPrincipal, LibraryDep, LimitsDep, QuotasDep
from app.engine.compiled import CompiledScript
from app.engine.lexicon import Lexicon
from app.engine.offline import check_utterance
from app.engine.script import Script
from app.errors import NotFound
from app.http import JSON
from app.responses import (
    CheckResult,
    LexiconCheckResult,
    LexiconDetail,
    LexiconList,
    ScriptDetail,
    ScriptList,
    Stored,
    errors,
)
from app.scripts.repository import SHARED, Document

router = APIRouter(prefix="/v1/scripts", tags=["scripts"], responses=errors(400, 401, 422))
lexicons = APIRouter(prefix="/v1/lexicons", tags=["lexicons"], responses=errors(400, 401, 422))

#: A version number in a query (``?version=``): the latest when left out.
Version = Annotated[
    int | None, Query(ge=1, le=VERSION_MAX, description="that version; the latest if left out")
]
#: A document as JSON (the schema of scripts_data/scripts/*.yaml or lexicons/*.yaml).
Document_ = Annotated[dict[str, Any], Body(description="the document, as its YAML file holds it")]


def _summary(lexicon: Lexicon) -> dict[str, Any]:
    return {
        "id": lexicon.id,
        "version": lexicon.version,
        "entries": len(lexicon.entries),
        "categories": {k: c.name for k, c in lexicon.categories.items()},
    }


@router.get("", responses={200: {"model": ScriptList}})
async def list_scripts(library: LibraryDep, principal: KeyPrincipal) -> JSON:
    items = []
    for document in await library.all("script", principal.tenant):
        script = Script.model_validate(document.body)
        call_types = sorted({str(t) for p in script.prompts for t in p.call_types})
        items.append(
            {
                "id": script.id,
                "name": script.name,
                "version": script.version,
                "description": script.description,
                "phases": [str(p) for p in script.phases],
                "call_types": call_types,
                "lexicon": script.lexicon,
                "lexicons": list(script.lexicon_ids),
                "shared": document.tenant == SHARED,
            }
        )
    return JSON({"items": items})


@router.get("/{script_id}", responses={200: {"model": ScriptDetail}, **errors(404)})
async def get_script(
    script_id: str, library: LibraryDep, principal: KeyPrincipal, version: Version = None
) -> JSON:
    script = await library.script(principal.tenant, script_id, version)
    body = script.model_dump(mode="json", exclude_none=True)
    summaries = []
    for lexicon_id in script.lexicon_ids:
        try:
            summaries.append(_summary(await library.lexicon(principal.tenant, lexicon_id)))
        except NotFound:
            pass  # a lexicon the tenant no longer sees: the script lists its id
    if summaries:
        body["lexicon_summary"] = summaries[0]
    body["lexicon_summaries"] = summaries
    return JSON(body)


@router.put("/{script_id}", responses={200: {"model": Stored}, **errors(429)})
async def put_script(
    script_id: str,
    document: Document_,
    library: LibraryDep,
    principal: KeyPrincipal,
    quotas: QuotasDep,
) -> JSON:
    """Replace the script: validated (a 422 names the field), stored as its next version. Calls
    in progress keep the version they started with; new calls get this one."""
    quotas.library_write(principal.tenant)
    stored = await library.put_script(principal.tenant, script_id, document)
    return JSON({"id": stored.id, "version": stored.version})


@router.post("/{script_id}/check", responses={200: {"model": CheckResult}, **errors(404)})
async def check(
    script_id: str,
    body: CheckRequest,
    library: LibraryDep,
    principal: KeyPrincipal,
    limits: LimitsDep,
) -> JSON:
    """Dry run: what would this utterance raise, and which required phrases does it say?"""
    limits.instant("at", body.at, int(time.time() * 1000))
    compiled, _ = await library.compiled(principal.tenant, script_id)
    result = check_utterance(compiled, body.text, body.speaker, body.call_type, epoch_ms(body.at))
    return JSON({"alerts": result.alerts, "prompts_done": result.prompts_done})


@lexicons.get("", responses={200: {"model": LexiconList}})
async def list_lexicons(library: LibraryDep, principal: KeyPrincipal) -> JSON:
    items = []
    for document in await library.all("lexicon", principal.tenant):
        lexicon = Lexicon.model_validate(document.body)
        items.append(
            {**_summary(lexicon), "name": lexicon.name, "shared": document.tenant == SHARED}
        )
    return JSON({"items": items})


@lexicons.get("/{lexicon_id}", responses={200: {"model": LexiconDetail}, **errors(404)})
async def get_lexicon(
    lexicon_id: str, library: LibraryDep, principal: KeyPrincipal, version: Version = None
) -> JSON:
    lexicon = await library.lexicon(principal.tenant, lexicon_id, version)
    return JSON(lexicon.model_dump(mode="json", exclude_none=True))


@lexicons.put("/{lexicon_id}", responses={200: {"model": Stored}, **errors(429)})
async def put_lexicon(
    lexicon_id: str,
    document: Document_,
    library: LibraryDep,
    principal: KeyPrincipal,
    quotas: QuotasDep,
) -> JSON:
    """Replace (or add) a lexicon: validated (a 422 names the field), stored as its next
    version. New calls on a script that uses it get it at once; calls in progress keep theirs."""
    quotas.library_write(principal.tenant)
    stored: Document = await library.put_lexicon(principal.tenant, lexicon_id, document)
    return JSON({"id": stored.id, "version": stored.version})


@lexicons.post(
    "/{lexicon_id}/check",
    responses={200: {"model": LexiconCheckResult}, **errors(404, 429)},
)
async def check_lexicon(
    lexicon_id: str, body: LexiconCheckRequest, library: LibraryDep, principal: KeyPrincipal
) -> JSON:
    """Dry run of a lexicon: for each sample agent utterance, the entries that fire and
    where, judged as a live call inside ``script`` would judge them (that script's own
    lexicons replaced by this one)."""
    lexicon = await library.lexicon(principal.tenant, lexicon_id, body.version)
    if body.script is not None:
        host = await library.script(principal.tenant, body.script)
    else:
        scripts = await library.all("script", principal.tenant)
        if not scripts:
            raise NotFound("no script to run the lexicon in", code="unknown_script")
        host = Script.model_validate(scripts[0].body)
    # Compiling takes a third of a second and more, and a hundred texts of 4,096 characters
    # tens of milliseconds: in the library's compiling thread, not on the event loop the live
    # calls share, one at a time per tenant.
    results = await library.dry_run(principal.tenant, _dry_run, host, lexicon, body)
    return JSON({"results": results})


def _dry_run(
    host: Script, lexicon: Lexicon, body: LexiconCheckRequest
) -> list[list[dict[str, Any]]]:
    """What :func:`check_lexicon` answers for each text: the entries that fire, and where."""
    compiled = CompiledScript(host, lexicon)
    entries = {entry.phrase: i for i, entry in enumerate(lexicon.entries)}
    results = []
    for text in body.texts:
        fired = []
        for alert in check_utterance(compiled, text, "agent", body.call_type).alerts:
            if alert["category"] != "forbidden":
                continue
            fired.append(
                {
                    "entry": entries[alert["phrase"]],
                    "phrase": alert["phrase"],
                    "rule": alert["rule"],
                    "severity": alert["severity"],
                    "span": alert["span"],
                    "match": alert["match"],
                }
            )
        results.append(fired)
    return results
