"""The script library's documents on the database: :class:`app.scripts.repository.
DocumentRepository`. Written at once (not through the writer): a ``PUT`` is answered once its
version is stored."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.scripts.repository import Document, Kind
from app.store.database import sessions
from app.store.models import DocumentRow

#: A version taken by another writer at the same moment is tried again this many times.
RETRIES = 5


class SqlDocumentRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = sessions(engine)

    async def latest(self, kind: Kind, tenant: str, doc_id: str) -> Document | None:
        statement = (
            select(DocumentRow)
            .where(
                DocumentRow.kind == kind, DocumentRow.tenant == tenant, DocumentRow.doc_id == doc_id
            )
            .order_by(DocumentRow.version.desc())
            .limit(1)
        )
        async with self._sessions() as session:
            row = (await session.scalars(statement)).first()
        return None if row is None else _document(row)

    async def get(self, kind: Kind, tenant: str, doc_id: str, version: int) -> Document | None:
        async with self._sessions() as session:
            row = await session.get(DocumentRow, (kind, tenant, doc_id, version))
        return None if row is None else _document(row)

    async def all_latest(self, kind: Kind, tenant: str) -> list[Document]:
        newest = (
            select(DocumentRow.doc_id, func.max(DocumentRow.version).label("version"))
            .where(DocumentRow.kind == kind, DocumentRow.tenant == tenant)
            .group_by(DocumentRow.doc_id)
            .subquery()
        )
        statement = (
            select(DocumentRow)
            .join(
                newest,
                (DocumentRow.doc_id == newest.c.doc_id) & (DocumentRow.version == newest.c.version),
            )
            .where(DocumentRow.kind == kind, DocumentRow.tenant == tenant)
            .order_by(DocumentRow.doc_id)
        )
        async with self._sessions() as session:
            return [_document(row) for row in (await session.scalars(statement)).all()]

    async def put(
        self, kind: Kind, tenant: str, doc_id: str, body: dict[str, Any], after: int = 0
    ) -> Document:
        for _ in range(RETRIES):
            latest = await self.latest(kind, tenant, doc_id)
            version = max(0 if latest is None else latest.version, after) + 1
            row = DocumentRow(
                kind=kind,
                tenant=tenant,
                doc_id=doc_id,
                version=version,
                body={**body, "version": version},
                created_ms=int(time.time() * 1000),
            )
            try:
                async with self._sessions() as session, session.begin():
                    session.add(row)
            except IntegrityError:
                continue  # another writer took this version: the next one
            return _document(row)
        raise RuntimeError(f"{kind} {doc_id!r}: no version could be stored")


def _document(row: DocumentRow) -> Document:
    return Document(row.kind, row.tenant, row.doc_id, row.version, row.body, row.created_ms)  # type: ignore[arg-type]
