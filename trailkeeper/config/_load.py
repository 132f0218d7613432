"""The config file and command-line overrides in, one checked ``Settings`` out (``load_settings``)."""

from __future__ import annotations

import contextlib
import ipaddress
from dataclasses import replace
from pathlib import Path

from trailkeeper.config import _identity, _trails
from trailkeeper.config._table import Table, is_url, read_table
from trailkeeper.config.settings import UPSTREAM_SERVICES, Settings, UpstreamConfig, demo_accounts
from trailkeeper.errors import ConfigError

__all__ = ["load_settings"]

# Defaults read from an instance: slotted dataclasses keep no field defaults on the class.
_DEFAULTS = Settings()
_SERVER_KEYS: tuple[str, ...] = ("host", "port", "data_dir", "trusted_proxies", "fail_open_reads")
_SERVER_KEYS += ("max_body_bytes", "retention_days", "journal", "max_skew_seconds")
_SERVER_KEYS += ("journal_min_free_bytes",)
_TOP_KEYS: tuple[str, ...] = ("server", "upstream", "account", "delivery", "digest", "bucket")
_TOP_KEYS += ("endpoint", "webhook", "organization")


def _is_network(text: str) -> bool:
    with contextlib.suppress(ValueError):
        return bool(ipaddress.ip_network(text, strict=False))
    return False


def _server(t: Table, base: Path) -> Settings:
    t.only(*_SERVER_KEYS)
    return Settings(
        host=t.get("host", str, "127.0.0.1") or "127.0.0.1",
        port=t.integer("port", 4566, 0, 65535),  # 0 = any free port (tests)
        data_dir=base / data_dir if (data_dir := t.get("data_dir", str)) else _DEFAULTS.data_dir,
        trusted_proxies=t.texts("trusted_proxies", _is_network, "is not an IP address or CIDR"),
        fail_open_reads=bool(t.get("fail_open_reads", bool, False)),
        max_body_bytes=t.integer("max_body_bytes", _DEFAULTS.max_body_bytes, 1, 1 << 31),
        retention_days=t.integer("retention_days", _DEFAULTS.retention_days, 1, 36500),
        journal_url=t.get("journal", str),
        max_skew_seconds=t.integer("max_skew_seconds", _DEFAULTS.max_skew_seconds, 1, 7 * 24 * 3600),
        journal_min_free_bytes=t.integer(
            "journal_min_free_bytes", _DEFAULTS.journal_min_free_bytes, 0, 1 << 50
        ),
    )


def _from_file(config_file: Path) -> Settings:
    top = read_table(config_file).only(*_TOP_KEYS)
    server = top.table("server")
    settings = _server(server, config_file.parent) if server else Settings()
    seen_keys: dict[str, str] = {}
    account_ids: set[str] = set()
    accounts = tuple(_identity.account(a, account_ids, seen_keys) for a in top.tables("account"))
    # Sections naming accounts are checked against what will be served: the demo account if none.
    known = [a.id for a in accounts or demo_accounts()]
    return replace(
        settings,
        config_file=config_file,
        accounts=accounts,
        upstreams=tuple(_identity.upstream(u) for u in top.tables("upstream")),
        delivery=_trails.delivery(top),
        buckets=_trails.buckets(top, known),
        endpoints=_trails.endpoints(top),
        webhooks=_trails.webhooks(top),
        organization=_trails.organization(top, known),
    )


def _cli_upstream(option: str) -> UpstreamConfig:
    """One ``--upstream SERVICE=URL`` option; it replaces the file's upstream of that service."""
    service, _, url = option.partition("=")
    if service not in UPSTREAM_SERVICES or not is_url(url):
        services = ", ".join(UPSTREAM_SERVICES)
        raise ConfigError(
            f"--upstream {option}: expected SERVICE=URL, SERVICE one of {services}, an http(s) URL"
        )
    return UpstreamConfig(service, url)


def load_settings(
    config_file: Path | None,
    *,
    host: str | None = None,
    port: int | None = None,
    data_dir: Path | None = None,
    upstreams: tuple[str, ...] = (),
    journal_url: str | None = None,
) -> Settings:
    """Read the config file (if any) and apply command-line overrides. Raises ConfigError.

    A relative ``data_dir`` in the file is relative to the file's directory; ``data_dir``
    given here (the command line) is used as is.
    """
    settings = _from_file(config_file) if config_file is not None else Settings()
    if port is not None and not 0 <= port <= 65535:
        raise ConfigError(f"--port {port}: must be in range 0..65535")
    overrides = tuple(_cli_upstream(option) for option in upstreams)
    kept = tuple(u for u in settings.upstreams if u.service not in {o.service for o in overrides})
    settings = replace(
        settings,
        host=settings.host if host is None else host,
        port=settings.port if port is None else port,
        data_dir=settings.data_dir if data_dir is None else data_dir,
        upstreams=kept + overrides,
        journal_url=settings.journal_url if journal_url is None else journal_url,
    )
    # No account configured: the demo identities, flagged so the server can say so at start.
    return settings if settings.accounts else replace(settings, accounts=demo_accounts(), demo=True)
