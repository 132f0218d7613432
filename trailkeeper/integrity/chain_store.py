"""The digest chain state contract: ``chain.ChainState`` (SQLite), ``pg_chain.PgChainState`` (PostgreSQL)."""

from __future__ import annotations

from typing import Protocol

from trailkeeper.integrity.chain import Chain, PendingDigest

__all__ = ["ChainStore"]


class ChainStore(Protocol):
    def describe(self) -> str: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def all(self) -> list[Chain]: ...

    async def open_chain(
        self, ident: tuple[str, str, str], *, session_ms: int, start_ms: int, floor_file_id: int
    ) -> None: ...

    async def plan(self, ident: tuple[str, str, str], pending: PendingDigest) -> None: ...

    async def commit(self, ident: tuple[str, str, str], pending: PendingDigest) -> None: ...

    async def drop(self, trail_arn: str) -> None: ...
