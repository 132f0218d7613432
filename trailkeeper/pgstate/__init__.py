"""Shared control-plane state in PostgreSQL: one pool per process, migrations per component, leases.

When the journal is PostgreSQL, the trail store, delivery state, digest chains and console sessions
live in the same database (and schema) as the journal, so every node sees the same trails and the
same delivery progress. See ``docs/deploy.md``.
"""

from trailkeeper.pgstate.db import PgDatabase, StateDbError
from trailkeeper.pgstate.leases import NO_LEASES, LeaseLost, Leases, PgLeases, delivery_lease, digest_lease

__all__ = [
    "NO_LEASES",
    "LeaseLost",
    "Leases",
    "PgDatabase",
    "PgLeases",
    "StateDbError",
    "delivery_lease",
    "digest_lease",
]
