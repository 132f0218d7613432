"""Secrets never reach a stored byte: canaries in every sensitive input, then a byte scan of everything kept.

Canaries go into Glue ``ConnectionProperties`` (boto3 and aws-cli), into every member the botocore
models mark sensitive in a Glue or EMR Serverless input (found by walking the models; inside and
beyond the model's length limits), and into EMR Serverless outputs that the model marks sensitive.
The secrets of the run are added: every SigV4 signature and session token the clients sent, the
temporary secret keys STS handed out, the configured long-term secrets and a console sign-in
secret. (The webhook's URL is configuration, not a secret: trailkeeper may keep it with the notices
it owes, so no canary goes into it.) After the run the scan covers the data directory (journal, WAL, state
database, buckets; raw bytes, gunzipped, and every SQLite value), the delivered log files read
through the S3 view, the notifications the webhook received, LookupEvents output and the server log.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions
import httpx
import pytest
from boto3.session import Session
from botocore.config import Config

from tests.e2e.conftest import ACCOUNT_A, ALICE, BOB, ROOT_A, Keys, aws_cli, lookup_all
from tests.reliability._secrets import Canaries, Scanner, sensitive_calls
from tests.reliability._support import Figures, ReliabilityServer, config_file, make_client
from tests.unit.delivery.sinks.farside import Webhook, run_webhook

BUCKET, TOPIC = "secret-logs", "secret-notify"
_SIGNATURE = re.compile(r"Signature=([0-9a-f]{64})")


@dataclass
class Wire:
    """What our clients put on the wire that must never be kept: signatures and session tokens."""

    signatures: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)

    def capture(self, request: Any, **_: Any) -> None:
        headers = request.headers
        if match := _SIGNATURE.search(str(headers.get("Authorization", b""), "latin-1")):
            self.signatures.add(match.group(1))
        if token := headers.get("X-Amz-Security-Token"):
            self.tokens.add(token.decode() if isinstance(token, bytes) else token)
        if match := re.search(r"X-Amz-Signature=([0-9a-f]{64})", request.url):
            self.signatures.add(match.group(1))


@dataclass
class Run:
    srv: ReliabilityServer
    hook: Webhook
    wire: Wire
    canaries: Canaries
    secrets: set[str]


def _client(run: Run, service: str, keys: Keys = ALICE, validate: bool = True) -> Any:
    session: Any = Session()
    client = session.client(
        service,
        endpoint_url=run.srv.url,
        region_name="us-east-1",
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
        aws_session_token=keys.session_token,
        config=Config(retries={"total_max_attempts": 1}, parameter_validation=validate),
    )
    client.meta.events.register("before-send", run.wire.capture)
    return client


def _try(call: Any, *args: Any, **kwargs: Any) -> None:
    """Canary calls may be refused (the embedded backend lacks some operations): recorded either way."""
    with contextlib.suppress(botocore.exceptions.ClientError):
        call(*args, **kwargs)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("secrets")
    canaries = Canaries()
    with run_webhook() as hook:
        # The webhook's URL is configuration that may legitimately be stored (with the notices owed
        # to it) and logged (delivery errors name their endpoint): no canary goes into it.
        extra = (
            f'\n[delivery]\ninterval_seconds = 1\n\n[[bucket]]\nname = "{BUCKET}"\naccount = "{ACCOUNT_A}"\n'
            f'\n[[webhook]]\ntopic = "{TOPIC}"\nurl = "{hook.url}"\n'
        )
        srv = ReliabilityServer(root / "data", config=config_file(root, extra=extra))
        srv.start()
        configured = {k.secret_access_key for k in (ALICE, BOB, ROOT_A)}
        yield Run(srv, hook, Wire(), canaries, configured)
        srv.stop()


@dataclass
class Activity:
    operations: list[str]
    control: str  # a canary in a member that is NOT secret: the scan must find it (the scan works)
    marker: str  # requestID of the last call; delivered means everything before it was delivered


def _connection_input(name: str, canaries: Canaries) -> dict[str, Any]:
    properties = {
        "USERNAME": canaries.new("user"),
        "PASSWORD": canaries.new("password"),
        "JDBC_CONNECTION_URL": f"jdbc:mysql://db.example:3306/{canaries.new('jdbc')}",
    }
    return {"Name": name, "ConnectionType": "JDBC", "ConnectionProperties": properties}


def _connections(run: Run) -> None:
    glue = _client(run, "glue")
    glue.create_connection(ConnectionInput=_connection_input("conn-a", run.canaries))
    _try(glue.update_connection, Name="conn-a", ConnectionInput=_connection_input("conn-a", run.canaries))
    glue.get_connection(Name="conn-a", HidePassword=False)
    glue.get_connections()
    cli_input = json.dumps(_connection_input("conn-cli", run.canaries))
    done = aws_cli(run.srv.url, ALICE, "glue", "create-connection", "--connection-input", cli_input)
    assert done.returncode == 0, done.stderr


def _model_sensitive_members(run: Run) -> list[str]:
    done = []
    for service in ("glue", "emr-serverless"):
        client = _client(run, service, validate=False)  # the server, not the client, sees bad input
        for operation, params in sensitive_calls(service, run.canaries):
            method = getattr(client, re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower())
            _try(method, **params)
            done.append(f"{service}:{operation}")
    return done


def _emr_outputs(run: Run) -> None:
    """Sensitive members in EMR Serverless answers (GetApplication, GetJobRun log their responses)."""
    emr, c = _client(run, "emr-serverless"), run.canaries
    config = [{"classification": "spark-defaults", "properties": {c.new("k"): c.new("v")}}]
    app = emr.create_application(
        name="secret-app", releaseLabel="emr-6.6.0", type="SPARK", runtimeConfiguration=config
    )["applicationId"]
    emr.get_application(applicationId=app)
    driver = {"sparkSubmit": {"entryPoint": c.new("entry"), "entryPointArguments": [c.new("arg")]}}
    _try(
        emr.start_job_run,
        applicationId=app,
        executionRoleArn=f"arn:aws:iam::{ACCOUNT_A}:role/job",
        jobDriver=driver,
        configurationOverrides={"applicationConfiguration": config},
    )
    for run_ in emr.list_job_runs(applicationId=app).get("jobRuns", []):
        emr.get_job_run(applicationId=app, jobRunId=run_["id"])


def _credentials(run: Run) -> None:
    """Temporary credentials from STS (their secrets join the needles), used, and signatures gone wrong."""
    sts = _client(run, "sts")
    role = f"arn:aws:iam::{ACCOUNT_A}:role/Admin"
    issued = [
        sts.assume_role(RoleArn=role, RoleSessionName="s1")["Credentials"],
        sts.get_session_token()["Credentials"],
        sts.get_federation_token(Name="fed")["Credentials"],
    ]
    for creds in issued:
        run.secrets |= {creds["SecretAccessKey"], creds["SessionToken"]}
        keys = Keys(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        _client(run, "glue", keys).get_databases()
    forged = Keys(ALICE.access_key_id, run.canaries.new("wrongsecret"))
    _try(_client(run, "glue", forged).get_databases)
    emr = _client(run, "emr-serverless")
    url = emr.generate_presigned_url("list_applications", Params={}, ExpiresIn=60)
    run.wire.capture(type("Presigned", (), {"headers": {}, "url": url})())
    httpx.get(url, timeout=10)


def _console_sign_ins(run: Run) -> None:
    wrong = run.canaries.new("consolesecret")
    for secret in (wrong, BOB.secret_access_key):
        with httpx.Client(base_url=run.srv.url, follow_redirects=True, timeout=10) as console:
            form = console.get("/console/signin").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', form)
            assert csrf is not None
            fields = {"csrf": csrf.group(1), "region": "us-east-1", "next": "/console/events"}
            console.post(
                "/console/signin",
                data={**fields, "access_key_id": BOB.access_key_id, "secret_access_key": secret},
            )


def _delivered(run: Run, request_id: str) -> bool:
    for path in (run.srv.data_dir / "buckets" / BUCKET).rglob("*.json.gz"):
        if request_id.encode() in gzip.decompress(path.read_bytes()):
            return True
    return False


@pytest.fixture(scope="module")
def activity(run: Run) -> Activity:
    ct = _client(run, "cloudtrail")
    ct.create_trail(Name="secret-trail", S3BucketName=BUCKET, SnsTopicName=TOPIC)
    ct.start_logging(Name="secret-trail")
    control = "tkcontrol" + run.canaries.prefix[-8:]
    _client(run, "glue").create_database(DatabaseInput={"Name": "ctl", "Description": control})
    _connections(run)
    operations = _model_sensitive_members(run)
    _emr_outputs(run)
    _credentials(run)
    _console_sign_ins(run)
    marker = _client(run, "glue").get_databases()["ResponseMetadata"]["RequestId"]
    deadline = time.monotonic() + 30
    while not (_delivered(run, marker) and run.hook.hits):
        assert time.monotonic() < deadline, "the run's events were not delivered and notified in 30 s"
        time.sleep(0.5)
    return Activity(operations, control, marker)


def _scanner(run: Run) -> Scanner:
    return Scanner([run.canaries.prefix], run.secrets | run.wire.tokens, set(run.wire.signatures))


def _report(scanner: Scanner) -> str:
    return "; ".join(f"{f.what} in {f.where}" for f in scanner.findings[:10])


def test_scan_finds_a_canary_planted_where_it_may_be_stored(run: Run, activity: Activity) -> None:
    """The controls: a canary in a database Description is kept (journal, log files), and so is a
    delivered file's SHA-256 (64 hex digits, like a signature, in the delivery state): both are found."""
    delivered = next((run.srv.data_dir / "buckets" / BUCKET).rglob("*.json.gz"))
    digest = hashlib.sha256(gzip.decompress(delivered.read_bytes())).hexdigest()
    scanner = Scanner([activity.control], set(), {digest})
    scanner.scan_tree(run.srv.data_dir)
    places = {f.where.split(":")[0] for f in scanner.findings if f.what == activity.control}
    assert any(p.endswith("journal.sqlite3") or "journal.sqlite3-wal" in p for p in places), places
    assert any("(gunzipped)" in f.where for f in scanner.findings), "nor in a delivered log file"
    assert any(f.what.startswith("signature") for f in scanner.findings), "a stored 64-hex value"


def test_data_directory_and_server_log_hold_no_secret_while_running(run: Run, activity: Activity) -> None:
    scanner = _scanner(run)
    scanner.scan_tree(run.srv.data_dir)
    scanner.scan("server log", run.srv.log_text().encode())
    assert not scanner.findings, _report(scanner)


def test_delivered_files_notifications_and_history_hold_no_secret(run: Run, activity: Activity) -> None:
    scanner = _scanner(run)
    s3 = make_client(run.srv.url, "s3", ALICE)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
            scanner.scan(f"s3://{BUCKET}/{obj['Key']}", body)
            scanner.scan(f"s3://{BUCKET}/{obj['Key']} (gunzipped)", gzip.decompress(body))
    for hit in run.hook.hits:  # what a notification carries: its headers and body
        scanner.scan("webhook notification", json.dumps(hit.headers).encode() + hit.body)
    for keys in (ALICE, BOB):
        events = lookup_all(make_client(run.srv.url, "cloudtrail", keys))
        scanner.scan(f"LookupEvents as {keys.access_key_id}", json.dumps(events, default=str).encode())
    assert run.hook.hits
    assert not scanner.findings, _report(scanner)


def test_nothing_kept_after_shutdown_holds_a_secret(run: Run, activity: Activity, figures: Figures) -> None:
    run.srv.stop()  # a clean stop checkpoints the WAL into the database files
    scanner = _scanner(run)
    files = scanner.scan_tree(run.srv.data_dir)
    scanner.scan("server log", run.srv.log_text().encode())
    assert not scanner.findings, _report(scanner)
    figures.record(
        "secrets",
        canaries_planted=len(run.canaries.issued),
        sensitive_operations_called=len(activity.operations),
        signatures_checked=len(run.wire.signatures),
        session_tokens_checked=len(run.wire.tokens),
        other_secrets_checked=len(run.secrets),
        files_scanned=files,
        bytes_scanned=scanner.scanned_bytes,
        notifications_scanned=len(run.hook.hits),
        found=0,
    )
