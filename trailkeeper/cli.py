"""The `trailkeeper` command: argument parsing and friendly output; the work happens in the packages."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from trailkeeper import __version__
from trailkeeper.config import Settings, load_settings
from trailkeeper.errors import ConfigError
from trailkeeper.integrity.command import add_keys_parser, add_validate_parser, run_keys, run_validate

__all__ = ["main"]

console = Console(stderr=True, soft_wrap=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trailkeeper", description="Self-hosted, CloudTrail-compatible audit trail."
    )
    parser.add_argument("--version", action="version", version=f"trailkeeper {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the gateway (AWS APIs + CloudTrail) on one port")
    serve.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port to listen on (default 4566)")
    serve.add_argument(
        "--data-dir", type=Path, default=None, help="where the journal lives (default .trailkeeper)"
    )
    serve.add_argument(
        "--config", type=Path, default=None, help="TOML config: identities, upstreams, server options"
    )
    serve.add_argument(
        "--journal",
        default=None,
        metavar="URL",
        help="where events are stored: sqlite:PATH (default: under --data-dir) or postgresql://…",
    )
    serve.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="SERVICE=URL",
        help="forward SERVICE (glue, emr-serverless) to an AWS-compatible endpoint, not the embedded backend",
    )
    serve.add_argument(
        "--tls-cert", type=Path, default=None, help="PEM certificate: serve HTTPS (records get tlsDetails)"
    )
    serve.add_argument("--tls-key", type=Path, default=None, help="PEM private key for --tls-cert")
    serve.add_argument(
        "--no-delivery",
        action="store_true",
        help="gateway only: no delivery, digest, sink or retention loops (`trailkeeper deliver` runs them)",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    _deliver_parser(commands)
    _bucket_parser(commands)
    add_validate_parser(commands)
    add_keys_parser(commands)
    return parser


def _deliver_parser(commands: Any) -> None:
    deliver = commands.add_parser(
        "deliver", help="delivery worker only: log files, digests, notifications and retention; no HTTP"
    )
    deliver.add_argument(
        "--journal",
        default=None,
        metavar="URL",
        help="the journal gateways write: postgresql://… (or sqlite:PATH)",
    )
    deliver.add_argument(
        "--config", type=Path, default=None, help="TOML config: buckets, sinks, delivery options"
    )
    deliver.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="local buckets (and, with a SQLite journal, digest signing keys; default .trailkeeper)",
    )
    deliver.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx and botocore log request URLs and headers at INFO/DEBUG; URLs may carry tokens: keep them quiet.
    for noisy in ("httpx", "httpcore", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _deliver(args: argparse.Namespace) -> int:
    import asyncio

    from trailkeeper.services.state import state_backend
    from trailkeeper.worker import run_worker

    try:
        settings = load_settings(args.config, data_dir=args.data_dir, journal_url=args.journal)
    except ConfigError as err:
        console.print(f"[red]error:[/red] {err}")
        return 2
    _setup_logging(args.log_level)
    state = state_backend(settings)
    console.print(f"[bold]trailkeeper {__version__}[/bold] delivery worker (no HTTP)")
    console.print(f"  journal: {settings.journal_url or 'sqlite under ' + str(settings.data_dir.resolve())}")
    console.print(f"  state: {state.describe()}")
    console.print(
        f"  delivers every {settings.delivery.interval_seconds:g}s, digests every "
        f"{settings.delivery.digest_interval_seconds:g}s; sinks and retention run here too"
    )
    if not state.shared:
        console.print(
            "  [yellow]note:[/yellow] a SQLite journal is one node's: run this worker only with that "
            "node's `serve --no-delivery`, never beside another worker"
        )
    try:
        asyncio.run(run_worker(settings))
    except KeyboardInterrupt:
        pass
    except Exception as err:  # startup failed: say why, without a traceback for the expected cases
        console.print(f"[red]error:[/red] delivery worker failed: {err}")
        return 1
    return 0


def _bucket_parser(commands: Any) -> None:
    bucket = commands.add_parser("bucket", help="local buckets that trails deliver log files to")
    actions = bucket.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a local bucket under the data directory")
    create.add_argument("name", help="the bucket name (S3 bucket naming rules)")
    create.add_argument("--account", default=None, help="owner account (default: the first configured one)")
    create.add_argument("--region", default="us-east-1", help="the bucket's region (default us-east-1)")
    create.add_argument("--data-dir", type=Path, default=None, help="the server's data directory")
    create.add_argument("--config", type=Path, default=None, help="TOML config: its accounts and data_dir")


def _bucket_create(args: argparse.Namespace) -> int:
    import time

    from trailkeeper.config.names import ACCOUNT_ID
    from trailkeeper.errors import AwsError
    from trailkeeper.storage.registry import buckets_root, create_local_bucket

    try:
        settings = load_settings(args.config, data_dir=args.data_dir)
    except ConfigError as err:
        console.print(f"[red]error:[/red] {err}")
        return 2
    account = args.account or settings.accounts[0].id
    known = {a.id for a in settings.accounts}
    if not ACCOUNT_ID.fullmatch(account) or (settings.config_file is not None and account not in known):
        console.print(f"[red]error:[/red] --account {account}: not a configured 12-digit account id")
        return 2
    try:
        record, created = create_local_bucket(
            settings.data_dir, args.name, account, args.region, now_ms=int(time.time() * 1000)
        )
    except AwsError as err:
        console.print(f"[red]error:[/red] {err.code_for('rest-xml')}: {err.message}")
        return 1
    where = buckets_root(settings.data_dir).resolve() / record.name
    done = "created bucket" if created else "bucket already exists, nothing to do:"
    owner = f"owner {record.account}, region {record.region}"
    console.print(f"{done} [bold]{record.name}[/bold] ({owner}) at {where}")
    return 0


def _describe(settings: Settings, scheme: str) -> None:
    url = f"{scheme}://{settings.host}:{settings.port}"
    console.print(f"[bold]trailkeeper {__version__}[/bold] listening on [cyan]{url}[/cyan]")
    console.print(f"  data directory: {settings.data_dir.resolve()}")
    for upstream in settings.upstreams:
        console.print(f"  {upstream.service}: forwarded to {upstream.url}")
    if settings.demo:
        console.print("  identities: demo store (account 123456789012; see README 'Demo identities')")
        console.print("    IAM user johndoe  AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        console.print("    role Admin        arn:aws:iam::123456789012:role/Admin (johndoe may assume it)")
    else:
        console.print(f"  identities: {len(settings.accounts)} account(s) from {settings.config_file}")
    console.print(f"  try: aws --endpoint-url {url} cloudtrail lookup-events --region us-east-1")


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from trailkeeper.server import build_app

    try:
        settings = load_settings(
            args.config,
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            upstreams=tuple(args.upstream),
            journal_url=args.journal,
        )
    except ConfigError as err:
        console.print(f"[red]error:[/red] {err}")
        console.print("Fix the config file (see README 'Configuration') and start again.")
        return 2
    _setup_logging(args.log_level)
    _describe(settings, "https" if args.tls_cert else "http")
    if args.no_delivery:
        console.print("  role: gateway only (--no-delivery): run `trailkeeper deliver` for log file delivery")
    # uvicorn's access log would print raw query strings, which for presigned URLs carry
    # signatures and session tokens: it stays off, and the gateway logs what is safe.
    if (args.tls_cert is None) != (args.tls_key is None):
        console.print("[red]error:[/red] --tls-cert and --tls-key go together; give both or neither.")
        return 2
    from trailkeeper.capture.protocol import GatewayHttpProtocol

    options: dict[str, Any] = {"http": GatewayHttpProtocol}  # httptools, each answer in one write
    if args.tls_cert is not None:
        from trailkeeper.capture.tls import TlsDetailsProtocol

        options = {
            "ssl_certfile": str(args.tls_cert),
            "ssl_keyfile": str(args.tls_key),
            "http": TlsDetailsProtocol,
        }
    uvicorn.run(
        build_app(settings, background=not args.no_delivery),
        **options,
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_level="warning",
        lifespan="on",
        server_header=False,
        # uvicorn's own X-Forwarded-For handling would trust any loopback peer and rewrite the
        # peer address before the gateway sees it; the gateway applies [server] trusted_proxies.
        proxy_headers=False,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "deliver":
        return _deliver(args)
    if args.command == "bucket" and args.action == "create":
        return _bucket_create(args)
    if args.command == "validate":
        return run_validate(args, console)
    if args.command == "keys" and args.action == "rotate":
        return run_keys(args, console)
    return 2


if __name__ == "__main__":
    sys.exit(main())
