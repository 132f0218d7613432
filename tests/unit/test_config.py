"""Settings from a TOML file and the command line; malformed files refused naming file, line and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from trailkeeper.config import (
    AccessKeyConfig,
    AccountConfig,
    RoleConfig,
    UpstreamConfig,
    UserConfig,
    demo_accounts,
    load_settings,
)
from trailkeeper.errors import ConfigError

GOOD = """\
[server]
host = "0.0.0.0"
port = 8443
data_dir = "state"
trusted_proxies = ["10.0.0.0/8", "::1"]
fail_open_reads = true
max_body_bytes = 1048576
retention_days = 30
journal = "postgresql://tk@db/tk"
max_skew_seconds = 300

[[upstream]]
service = "glue"
url = "https://glue.eu-west-1.amazonaws.com"
access_key_id = "AKIAUPSTREAM00000001"
secret_access_key = "upstream-secret"

[[account]]
id = "111122223333"
alias = "prod"
root = { access_key_id = "AKIAROOTA00000000001", secret_access_key = "root-secret" }

[[account.user]]
name = "alice"
path = "/data/"
access_keys = [
  { access_key_id = "AKIAALICE00000000001", secret_access_key = "alice-1" },
  { access_key_id = "AKIAALICE00000000002", secret_access_key = "alice-2" },
]

[[account.role]]
name = "Admin"
trusted = ["arn:aws:iam::111122223333:user/data/alice"]
max_session_duration = 7200

[[account]]
id = "444455556666"

[[account.user]]
name = "bob"
access_keys = [{ access_key_id = "AKIABOB0000000000001", secret_access_key = "bob" }]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def _refusal(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert message.startswith(f"{path}:")
    return message.removeprefix(f"{path}:")


def test_load_settings_good_file_read_completely(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    settings = load_settings(path)
    assert (settings.host, settings.port, settings.data_dir) == ("0.0.0.0", 8443, tmp_path / "state")
    assert settings.trusted_proxies == ("10.0.0.0/8", "::1")
    assert settings.fail_open_reads
    assert (settings.max_body_bytes, settings.retention_days, settings.max_skew_seconds) == (1048576, 30, 300)
    assert settings.journal_url == "postgresql://tk@db/tk"
    assert settings.config_file == path
    assert not settings.demo
    assert settings.upstreams == (
        UpstreamConfig(
            "glue", "https://glue.eu-west-1.amazonaws.com", "AKIAUPSTREAM00000001", "upstream-secret"
        ),
    )
    first, second = settings.accounts
    assert first == AccountConfig(
        "111122223333",
        AccessKeyConfig("AKIAROOTA00000000001", "root-secret"),
        (
            UserConfig(
                "alice",
                "/data/",
                (
                    AccessKeyConfig("AKIAALICE00000000001", "alice-1"),
                    AccessKeyConfig("AKIAALICE00000000002", "alice-2"),
                ),
            ),
        ),
        (RoleConfig("Admin", ("arn:aws:iam::111122223333:user/data/alice",), "/", 7200),),
        "prod",
    )
    assert second.users[0].name == "bob"
    assert second.root is None


def test_load_settings_without_file_uses_demo_identities() -> None:
    settings = load_settings(None)
    assert settings.demo
    assert settings.accounts == demo_accounts()
    (account,) = settings.accounts
    assert account.id == "123456789012"
    assert account.root == AccessKeyConfig("AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY")
    assert account.users[0].access_keys[0].access_key_id == "AKIAIOSFODNN7EXAMPLE"
    assert account.roles[0].trusted == (
        "arn:aws:iam::123456789012:user/johndoe",
        "arn:aws:iam::123456789012:root",
    )


def test_load_settings_file_without_accounts_uses_demo_identities(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, "[server]\nport = 4567\n"))
    assert settings.demo
    assert settings.port == 4567
    assert settings.accounts == demo_accounts()


def test_load_settings_command_line_overrides_file(tmp_path: Path) -> None:
    settings = load_settings(
        _write(tmp_path, GOOD),
        host="127.0.0.2",
        port=0,
        data_dir=Path("elsewhere"),
        upstreams=("glue=http://127.0.0.1:9000", "emr-serverless=http://127.0.0.1:9001"),
    )
    assert (settings.host, settings.port, settings.data_dir) == ("127.0.0.2", 0, Path("elsewhere"))
    assert settings.upstreams == (
        UpstreamConfig("glue", "http://127.0.0.1:9000"),
        UpstreamConfig("emr-serverless", "http://127.0.0.1:9001"),
    )


@pytest.mark.parametrize("option", ["s3=http://x", "glue", "glue=ftp://x", "glue="])
def test_load_settings_bad_upstream_option_refused(option: str) -> None:
    with pytest.raises(ConfigError, match=f"^--upstream {option}: expected SERVICE=URL"):
        load_settings(None, upstreams=(option,))


def test_load_settings_missing_file_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_settings(tmp_path / "absent.toml")


def test_load_settings_syntax_error_names_tomllib_line(tmp_path: Path) -> None:
    assert _refusal(tmp_path, '[server]\nport = 1\nhost = "unterminated\n').startswith("3: ")


ACCT = '[[account]]\nid = "111122223333"\n'
USER_KEYS = """\
[[account]]
id = "111122223333"

[[account.user]]
name = "alice"
access_keys = [{ access_key_id = "AKIAALICE00000000001", secret_access_key = "s" }]

[[account.user]]
name = "carol"
access_keys = [{ access_key_id = "AKIA", secret_access_key = "s" }]
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            USER_KEYS,
            '10: account[0].user[1].access_keys[0]: access_key_id "AKIA" must be 16-128 characters [A-Z0-9]',
        ),
        ('[server]\nhost = "h"\nport = 70000\n', "3: server: port 70000 is out of range 0..65535"),
        ('[server]\nport = "4566"\n', "2: server: port must be an integer, got a string"),
        ("[server]\nport = true\n", "2: server: port must be an integer, got true or false"),
        ('[server]\nhost = "h"\nverbose = true\n', '3: server: unknown key "verbose"'),
        ('[server]\nport = 1\n\n[[acount]]\nid = "1"\n', '4: unknown key "acount"'),
        (
            '[server]\ntrusted_proxies = ["10.0.0.1", "nope"]\n',
            '2: server: trusted_proxies "nope" is not an IP',
        ),
        ('[[account]]\nid = "1234"\n', '2: account[0]: id "1234" must be 12 digits'),
        (
            ACCT + "\n" + ACCT,
            '5: account[1]: id "111122223333" is used',
        ),
        (
            ACCT + 'root = { access_key_id = "AKIAROOTA00000000001", secret_access_key = "s" }\n'
            '\n[[account.user]]\nname = "alice"\naccess_keys = [\n'
            '  { access_key_id = "AKIAROOTA00000000001", secret_access_key = "t" },\n]\n',
            '8: account[0].user[0].access_keys[0]: access_key_id "AKIAROOTA00000000001" is already used by '
            "account[0].root",
        ),
        (
            ACCT + '[[account.user]]\nname = "alice"\naccess_keys = [\n'
            '  { access_key_id = "ASIAALICE00000000001", secret_access_key = "t" },\n]\n',
            '6: account[0].user[0].access_keys[0]: access_key_id "ASIAALICE00000000001" must not start with',
        ),
        (
            ACCT + '[[account.user]]\nname = "alice"\naccess_keys = [\n'
            '  { access_key_id = "AKIAALICE00000000001", secret_access_key = "" },\n]\n',
            '6: account[0].user[0].access_keys[0]: secret_access_key "" must not be empty',
        ),
        (
            ACCT + '[[account.user]]\nname = "al ice"\n',
            '4: account[0].user[0]: name "al ice" must be 1-64 characters',
        ),
        (
            ACCT + '[[account.user]]\nname = "alice"\npath = "/data"\n',
            '5: account[0].user[0]: path "/data" must start and end with "/"',
        ),
        (
            ACCT + '[[account.user]]\nname = "alice"\n[[account.user]]\nname = "alice"\n',
            '6: account[0].user[1]: name "alice" is used twice in this account',
        ),
        (
            ACCT + '[[account.role]]\nname = "Admin"\ntrusted = ["alice"]\n',
            '5: account[0].role[0]: trusted "alice" is not an IAM or STS principal ARN',
        ),
        (
            ACCT + '[[account.role]]\nname = "Admin"\nmax_session_duration = 100\n',
            "5: account[0].role[0]: max_session_duration 100 is out of range 3600..43200",
        ),
        (
            ACCT + '[[account.user]]\npath = "/"\n',
            '3: account[0].user[0]: missing required key "name"',
        ),
        (
            '[[upstream]]\nservice = "s3"\nurl = "http://x"\n',
            '2: upstream[0]: service "s3" must be one of: glue',
        ),
        (
            '[[upstream]]\nservice = "glue"\nurl = "http://x"\naccess_key_id = "AKIAUPSTREAM00000001"\n',
            '4: upstream[0]: access_key_id "AKIAUPSTREAM00000001" needs a secret_access_key',
        ),
        ("server = 1\n", "1: server must be a table, got an integer"),
    ],
)
def test_load_settings_malformed_file_refused_naming_line(tmp_path: Path, text: str, expected: str) -> None:
    assert _refusal(tmp_path, text).startswith(expected)
