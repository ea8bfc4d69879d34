"""The script library the tests run calls on: the repository's scripts_data, seeded into an
in-memory document store (as the service seeds its shared library at start-up)."""

from __future__ import annotations

import asyncio

from app.config import Settings
from app.scripts.loader import load_library
from app.scripts.repository import MemoryDocumentRepository
from app.scripts.service import ScriptLibrary


def shared_library() -> ScriptLibrary:
    library = ScriptLibrary(MemoryDocumentRepository())
    asyncio.run(library.seed(load_library(Settings().scripts_dir)))
    return library
