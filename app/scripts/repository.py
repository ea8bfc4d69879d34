"""The script library's documents — scripts and lexicons, every version, per tenant — behind a
:class:`DocumentRepository`; :class:`MemoryDocumentRepository` keeps them in this process, the
database one is ``app.store.documents``.

A document is stored as the JSON its schema validated (``app.engine.script``); its version is
the store's: one more than the latest of the same kind, tenant and id. The shared library (the
national norms seeded from ``scripts_data/``) is the tenant :data:`SHARED`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

#: The tenant of the shared library: every tenant sees it (and the open service uses only it).
SHARED = ""

Kind = Literal["script", "lexicon"]


@dataclass(frozen=True, slots=True)
class Document:
    kind: Kind
    tenant: str
    id: str
    version: int
    #: The document as validated, with ``version`` set to the store's.
    body: dict[str, Any]
    created_ms: int


class DocumentRepository(Protocol):
    async def latest(self, kind: Kind, tenant: str, doc_id: str) -> Document | None: ...

    async def get(self, kind: Kind, tenant: str, doc_id: str, version: int) -> Document | None: ...

    async def all_latest(self, kind: Kind, tenant: str) -> list[Document]:
        """The latest version of each of the tenant's own documents of ``kind``, by id."""
        ...

    async def put(
        self, kind: Kind, tenant: str, doc_id: str, body: dict[str, Any], after: int = 0
    ) -> Document:
        """Store ``body`` as the next version: one more than the latest, and than ``after``
        (the first is 1); the stored body's ``version`` is that number. Two writers at once
        get two versions, never one."""
        ...


class MemoryDocumentRepository:
    def __init__(self) -> None:
        self._docs: dict[tuple[Kind, str, str], list[Document]] = {}

    async def latest(self, kind: Kind, tenant: str, doc_id: str) -> Document | None:
        versions = self._docs.get((kind, tenant, doc_id))
        return versions[-1] if versions else None

    async def get(self, kind: Kind, tenant: str, doc_id: str, version: int) -> Document | None:
        for document in self._docs.get((kind, tenant, doc_id), []):
            if document.version == version:
                return document
        return None

    async def all_latest(self, kind: Kind, tenant: str) -> list[Document]:
        return sorted(
            (
                versions[-1]
                for (k, t, _), versions in self._docs.items()
                if k == kind and t == tenant
            ),
            key=lambda doc: doc.id,
        )

    async def put(
        self, kind: Kind, tenant: str, doc_id: str, body: dict[str, Any], after: int = 0
    ) -> Document:
        versions = self._docs.setdefault((kind, tenant, doc_id), [])
        version = max(versions[-1].version if versions else 0, after) + 1
        document = Document(
            kind, tenant, doc_id, version, {**body, "version": version}, int(time.time() * 1000)
        )
        versions.append(document)
        return document
