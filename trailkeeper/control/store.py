"""The trail store contract: durable trails and their status, shared by every node.

The SQLite implementation keeps them in ``<data_dir>/state.sqlite3``; a PostgreSQL one
comes with the many-nodes work. Every method is safe to call concurrently.
"""

from __future__ import annotations

from typing import Any, Protocol

from trailkeeper.control.model import Trail, TrailStatus

__all__ = ["TrailStore"]


class TrailStore(Protocol):
    def describe(self) -> str: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def create(self, trail: Trail) -> None:
        """Store a new trail (not logging). Raises AwsError TrailAlreadyExistsException."""
        ...

    async def replace(self, trail: Trail) -> None:
        """Overwrite an existing trail's configuration (same ARN)."""
        ...

    async def delete(self, arn: str) -> bool:
        """Remove the trail and its status; False if it did not exist."""
        ...

    async def get(self, arn: str) -> Trail | None: ...

    async def trails_of(self, account_id: str) -> list[Trail]:
        """Every trail the account owns, in every region, by name."""
        ...

    async def all(self) -> list[Trail]:
        """Every trail of every account (delivery workers)."""
        ...

    async def status(self, arn: str) -> TrailStatus: ...

    async def update_status(self, arn: str, **changes: Any) -> TrailStatus:
        """Apply field changes to the trail's status atomically and return the new status."""
        ...
