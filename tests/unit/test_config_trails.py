"""The trail sections of the config: delivery, digest, buckets, endpoints, webhooks, organization."""

from __future__ import annotations

from pathlib import Path

import pytest

from trailkeeper.config import (
    BucketConfig,
    DeliveryConfig,
    EndpointConfig,
    OrganizationConfig,
    WebhookConfig,
    load_settings,
)
from trailkeeper.errors import ConfigError

ACCOUNTS = """\
[[account]]
id = "111122223333"

[[account]]
id = "444455556666"
"""

GOOD = (
    ACCOUNTS
    + """
[delivery]
interval_seconds = 1
max_file_bytes = 2048
local_retention_days = 365

[digest]
interval_seconds = 10.5

[[bucket]]
name = "audit-logs"
writers = ["444455556666"]

[[bucket]]
name = "remote-logs"
account = "444455556666"
endpoint_url = "http://127.0.0.1:9000"
region = "eu-west-1"
access_key_id = "AKIAREMOTE0000000001"
secret_access_key = "remote-secret"

[[endpoint]]
service = "sns"
url = "http://127.0.0.1:5000"

[[endpoint]]
service = "logs"
url = "http://127.0.0.1:5001"
region = "us-west-2"
access_key_id = "AKIALOGS000000000001"
secret_access_key = "logs-secret"

[[webhook]]
topic = "arn:aws:sns:us-east-1:111122223333:ct-topic"
url = "http://127.0.0.1:8080/hook"

[organization]
id = "o-exampleorgid"
management_account = "111122223333"
members = ["444455556666"]
"""
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_load_settings_trail_sections_read_completely(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, GOOD))
    assert settings.delivery == DeliveryConfig(1.0, 2048, 365, 10.5)
    assert settings.buckets == (
        BucketConfig("audit-logs", account="111122223333", writers=("444455556666",)),
        BucketConfig(
            "remote-logs",
            "http://127.0.0.1:9000",
            "eu-west-1",
            "444455556666",
            (),
            "AKIAREMOTE0000000001",
            "remote-secret",
        ),
    )
    assert settings.endpoints == (
        EndpointConfig("sns", "http://127.0.0.1:5000"),
        EndpointConfig("logs", "http://127.0.0.1:5001", "us-west-2", "AKIALOGS000000000001", "logs-secret"),
    )
    assert settings.webhooks == (
        WebhookConfig("arn:aws:sns:us-east-1:111122223333:ct-topic", "http://127.0.0.1:8080/hook"),
    )
    assert settings.organization == OrganizationConfig("o-exampleorgid", "111122223333", ("444455556666",))


def test_load_settings_without_trail_sections_uses_defaults(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, ACCOUNTS))
    assert settings.delivery == DeliveryConfig()
    assert (settings.buckets, settings.endpoints, settings.webhooks, settings.organization) == (
        (),
        (),
        (),
        None,
    )


def test_load_settings_bucket_owner_defaults_to_the_demo_account(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, '[[bucket]]\nname = "audit-logs"\n'))
    assert settings.demo
    assert settings.buckets == (BucketConfig("audit-logs", account="123456789012"),)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[delivery]\ninterval_seconds = 0.5\n", "2: delivery: interval_seconds 0.5 is out of range 1..3600"),
        (
            '[delivery]\ninterval_seconds = "60"\n',
            "2: delivery: interval_seconds must be a number, got a string",
        ),
        ("[delivery]\nflush = 1\n", '2: delivery: unknown key "flush"'),
        ("[delivery]\nmax_file_bytes = 10\n", "2: delivery: max_file_bytes 10 is out of range 1024.."),
        (
            "[delivery]\nlocal_retention_days = 0\n",
            "2: delivery: local_retention_days 0 is out of range 1..36500",
        ),
        ("[digest]\ninterval_seconds = 5\n", "2: digest: interval_seconds 5 is out of range 10..86400"),
        (
            '[[bucket]]\nname = "Audit_Logs"\n',
            '2: bucket[0]: name "Audit_Logs" is not a valid S3 bucket name',
        ),
        ('[[bucket]]\nname = "10.0.0.1"\n', '2: bucket[0]: name "10.0.0.1" is not a valid S3 bucket name'),
        (
            '[[bucket]]\nname = "audit-logs"\n\n[[bucket]]\nname = "audit-logs"\n',
            '5: bucket[1]: name "audit-logs" is configured twice',
        ),
        (
            '[[bucket]]\nname = "audit-logs"\naccount = "999999999999"\n',
            '3: bucket[0]: account "999999999999" is not a configured account',
        ),
        (
            '[[bucket]]\nname = "audit-logs"\nwriters = ["999999999999"]\n',
            '3: bucket[0]: writers "999999999999" must be a configured account other than the owner',
        ),
        (
            '[[bucket]]\nname = "audit-logs"\n'
            'access_key_id = "AKIAX0000000000000001"\nsecret_access_key = "s"\n',
            '3: bucket[0]: access_key_id "AKIAX0000000000000001" is only used with an endpoint_url',
        ),
        (
            '[[bucket]]\nname = "audit-logs"\nendpoint_url = "ftp://x"\n',
            '3: bucket[0]: endpoint_url "ftp://x" must be an http:// or https:// URL',
        ),
        (
            '[[bucket]]\nname = "audit-logs"\nregion = "Mars"\n',
            '3: bucket[0]: region "Mars" is not a region name',
        ),
        (
            '[[endpoint]]\nservice = "sqs"\nurl = "http://x"\n',
            '2: endpoint[0]: service "sqs" must be one of: sns, logs, events',
        ),
        (
            '[[endpoint]]\nservice = "sns"\nurl = "http://x"\n[[endpoint]]\nservice = "sns"\nurl = "http://y"\n',
            '5: endpoint[1]: service "sns" has two endpoints',
        ),
        ('[[endpoint]]\nservice = "sns"\n', 'endpoint[0]: missing required key "url"'),
        (
            '[[webhook]]\ntopic = "my topic"\nurl = "http://x"\n',
            '2: webhook[0]: topic "my topic" is not an SNS topic name or ARN',
        ),
        (
            '[organization]\nid = "org-1"\nmanagement_account = "111122223333"\n',
            '2: organization: id "org-1" must be o- and 10-32 characters [a-z0-9]',
        ),
        (
            '[organization]\nid = "o-exampleorgid"\nmanagement_account = "999999999999"\n',
            '3: organization: management_account "999999999999" is not a configured account',
        ),
        (
            '[organization]\nid = "o-exampleorgid"\nmanagement_account = "111122223333"\n'
            'members = ["111122223333"]\n',
            '4: organization: members "111122223333" must be a configured account other than the management',
        ),
    ],
)
def test_load_settings_malformed_trail_section_refused_naming_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = _write(tmp_path, ACCOUNTS + "\n" + text)
    offset = ACCOUNTS.count("\n") + 1  # the expected line numbers count from the section's first line
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value).removeprefix(f"{path}:")
    line, _, rest = message.partition(":")
    want_line, _, want_rest = expected.partition(":")
    if want_line.isdigit():
        assert (int(line) - offset, rest.strip()[: len(want_rest.strip())]) == (
            int(want_line),
            want_rest.strip(),
        )
    else:
        assert expected in message
