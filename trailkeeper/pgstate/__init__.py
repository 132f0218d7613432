"""Shared control-plane state in PostgreSQL: one pool per process, migrations per component, leases.

When the journal is PostgreSQL, the trail store, delivery state, digest chains and console sessions
live in the same database (and schema) as the journal, so every node sees the same trails and the
same delivery progress. See ``docs/deploy.md``.

The modules are imported by name (``pgstate.db``, ``pgstate.leases``): importing this package must
not load psycopg, so SQLite-only processes (and ``trailkeeper validate``) start fast.
"""
