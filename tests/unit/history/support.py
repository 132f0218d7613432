"""Shared by the history tests: a CallEnv around a real journal, and one LookupEvents call."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from tests.unit.journal.support import ACCOUNT, REGION, T0
from trailkeeper.capture.identity.principal import Principal
from trailkeeper.config import Settings
from trailkeeper.history.lookup import lookup_events
from trailkeeper.journal.base import Journal
from trailkeeper.services.registry import AppServices, CallEnv

if TYPE_CHECKING:
    from trailkeeper.capture.catalog import Catalog
    from trailkeeper.capture.identity.sessions import SessionService
    from trailkeeper.capture.identity.store import IdentityStore

NOW = datetime.fromtimestamp(T0 / 1000, UTC)  # the events in these tests happen up to this moment


def call_env(
    journal: Journal, *, account_id: str = ACCOUNT, region: str = REGION, now: datetime = NOW
) -> CallEnv:
    principal = Principal(
        type="IAMUser",
        account_id=account_id,
        arn=f"arn:aws:iam::{account_id}:user/alice",
        principal_id="AIDAEXAMPLEALICE0001",
        access_key_id="AKIAALICE0000000001X",
        user_name="alice",
    )
    app = AppServices(  # LookupEvents uses only the settings and the journal
        settings=Settings(retention_days=90),
        catalog=cast("Catalog", None),
        journal=journal,
        identities=cast("IdentityStore", None),
        sessions=cast("SessionService", None),
    )
    return CallEnv(principal, region, "req-0001", now, "192.0.2.10", app)


async def lookup(journal: Journal, params: dict[str, Any] | None = None, **env: Any) -> dict[str, Any]:
    return await lookup_events(call_env(journal, **env), dict(params or {}))


async def lookup_all(
    journal: Journal, params: dict[str, Any] | None = None, **env: Any
) -> list[dict[str, Any]]:
    """Every page, following NextToken the way the AWS CLI paginator does."""
    params = dict(params or {})
    events: list[dict[str, Any]] = []
    while True:
        page = await lookup(journal, params, **env)
        events += page["Events"]
        if "NextToken" not in page:
            return events
        params["NextToken"] = page["NextToken"]
