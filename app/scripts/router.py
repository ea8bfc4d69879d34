"""The script library over REST: list, get, and the dry run for script authors."""

from __future__ import annotations

from fastapi import APIRouter

from app.calls.schemas import CheckRequest, epoch_ms
from app.deps import KeyPrincipal, LibraryDep, Scripts
from app.engine.offline import check_utterance
from app.errors import NotFound
from app.http import JSON
from app.responses import CheckResult, ScriptDetail, ScriptList, errors

router = APIRouter(prefix="/v1/scripts", tags=["scripts"], responses=errors(400, 401, 422))


@router.get("", responses={200: {"model": ScriptList}})
async def list_scripts(library: LibraryDep, principal: KeyPrincipal) -> JSON:
    items = []
    for script in library.scripts.values():
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
            }
        )
    return JSON({"items": items})


@router.get("/{script_id}", responses={200: {"model": ScriptDetail}, **errors(404)})
async def get_script(script_id: str, library: LibraryDep, principal: KeyPrincipal) -> JSON:
    script = library.scripts.get(script_id)
    if script is None:
        raise NotFound(f"no script {script_id!r}", code="unknown_script")
    lexicon = library.lexicon_for(script)
    body = script.model_dump(mode="json", exclude_none=True)
    if lexicon is not None:
        body["lexicon_summary"] = {
            "id": lexicon.id,
            "version": lexicon.version,
            "entries": len(lexicon.entries),
            "categories": {k: c.name for k, c in lexicon.categories.items()},
        }
    return JSON(body)


@router.post("/{script_id}/check", responses={200: {"model": CheckResult}, **errors(404)})
async def check(
    script_id: str, body: CheckRequest, scripts: Scripts, principal: KeyPrincipal
) -> JSON:
    """Dry run: what would this utterance raise, and which required phrases does it say?"""
    compiled = scripts.get(script_id)
    if compiled is None:
        raise NotFound(f"no script {script_id!r}", code="unknown_script")
    result = check_utterance(compiled, body.text, body.speaker, body.call_type, epoch_ms(body.at))
    return JSON({"alerts": result.alerts, "prompts_done": result.prompts_done})
