"""The trail control plane against a real server: boto3 and the aws CLI, three accounts, one organization.

Account A (alice, root) is the organization's management account, B (bob) its member, C (carol)
belongs to no organization. Trails a test creates are deleted after it (5 trails per region).
"""

from __future__ import annotations

import contextlib
import json
import shlex
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import ALICE, BOB, ROOT_A, Keys, aws_cli, find_event, make_client
from tests.e2e.server import TrailkeeperServer

Params = dict[str, Any]

A, B, C = "111122223333", "444455556666", "777788889999"
CAROL = Keys("AKIACAROL00000000001", "carolSecretcarolSecretcarolSecret0001")
EAST, WEST = "us-east-1", "us-west-2"


def _account(account: str, user: str, keys: Keys) -> str:
    key = f'{{ access_key_id = "{keys.access_key_id}", secret_access_key = "{keys.secret_access_key}" }}'
    return f'[[account]]\nid = "{account}"\n\n[[account.user]]\nname = "{user}"\naccess_keys = [{key}]\n'


ROOT = f'root = {{ access_key_id = "{ROOT_A.access_key_id}", '
ROOT += f'secret_access_key = "{ROOT_A.secret_access_key}" }}'
# Top-level keys (the buckets) come first: TOML puts keys after a table header into that table.
CONFIG = f"""bucket = [
  {{ name = "audit-logs", account = "{A}", writers = ["{B}"] }},
  {{ name = "private-logs", account = "{A}" }},
  {{ name = "carol-logs", account = "{C}" }},
]

[organization]
id = "o-exampleorgid"
management_account = "{A}"
members = ["{B}"]

"""
CONFIG += _account(A, "alice", ALICE).replace("\n\n", f"\n{ROOT}\n\n", 1) + _account(B, "bob", BOB)
CONFIG += _account(C, "carol", CAROL)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrailkeeperServer]:
    root = tmp_path_factory.mktemp("trails")
    (root / "trailkeeper.toml").write_text(CONFIG)
    server = TrailkeeperServer(root / "data", config=root / "trailkeeper.toml")
    server.start()
    yield server
    server.stop()


class Trails:
    """cloudtrail clients per (keys, region), made once (the slow part), and the trails a test made."""

    def __init__(self, url: str, clients: dict[tuple[Keys, str], Any]) -> None:
        self.url, self.clients, self.made = url, clients, list[tuple[Keys, str]]()

    def __call__(self, keys: Keys = ALICE, region: str = EAST) -> Any:
        if (keys, region) not in self.clients:
            self.clients[keys, region] = make_client(self.url, "cloudtrail", keys, region)
        return self.clients[keys, region]

    def create(self, keys: Keys = ALICE, region: str = EAST, **params: Any) -> Any:
        params.setdefault("S3BucketName", "audit-logs")
        out = self(keys, region).create_trail(**params)
        self.made.append((keys, out["TrailARN"]))
        return out

    def cleanup(self) -> None:
        for keys, arn in self.made:
            with contextlib.suppress(ClientError):
                self(keys, arn.split(":")[3]).delete_trail(Name=arn)


@pytest.fixture(scope="module")
def clients() -> dict[tuple[Keys, str], Any]:
    return {}


@pytest.fixture
def tk(srv: TrailkeeperServer, clients: dict[tuple[Keys, str], Any]) -> Iterator[Trails]:
    trails = Trails(srv.url, clients)
    yield trails
    trails.cleanup()


def _error(call: Callable[..., Any], **params: Any) -> tuple[str, str]:
    """(code, message) of the AWS error the call must fail with (always HTTP 400 on CloudTrail)."""
    with pytest.raises(ClientError) as info:
        call(**params)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def _code(call: Callable[..., Any], **params: Any) -> str:
    return _error(call, **params)[0]


def _arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:cloudtrail:{region}:{account}:trail/{name}"


def _cli(srv: TrailkeeperServer, *args: str) -> Any:
    done = aws_cli(srv.url, ALICE, "cloudtrail", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def test_trail_lifecycle_create_get_describe_list_update_delete(tk: Trails) -> None:
    created = tk.create(Name="life-trail")
    created.pop("ResponseMetadata")
    assert created == {
        "Name": "life-trail",
        "S3BucketName": "audit-logs",
        "IncludeGlobalServiceEvents": True,
        "IsMultiRegionTrail": False,
        "TrailARN": _arn(EAST, A, "life-trail"),
        "LogFileValidationEnabled": False,
        "IsOrganizationTrail": False,
    }
    trail = tk().get_trail(Name="life-trail")["Trail"]
    flags = (trail["HomeRegion"], trail["HasCustomEventSelectors"], trail["HasInsightSelectors"])
    assert flags == (EAST, False, False)
    assert trail in tk().describe_trails()["trailList"]
    assert tk().describe_trails(trailNameList=["life-trail"])["trailList"] == [trail]
    listed = tk().list_trails()["Trails"]
    assert {"TrailARN": trail["TrailARN"], "Name": "life-trail", "HomeRegion": EAST} in listed
    changes = {"S3KeyPrefix": "team", "SnsTopicName": "ct", "EnableLogFileValidation": True}
    updated = tk().update_trail(Name="life-trail", **changes)
    changed = (updated["S3KeyPrefix"], updated["SnsTopicARN"], updated["LogFileValidationEnabled"])
    assert changed == ("team", f"arn:aws:sns:{EAST}:{A}:ct", True)
    assert tk().get_trail(Name=trail["TrailARN"])["Trail"]["SnsTopicName"] == "ct"
    tk().delete_trail(Name="life-trail")
    gone = _error(tk().get_trail, Name="life-trail")
    assert gone == ("TrailNotFoundException", f"Unknown trail: life-trail for the user: {A}")


def test_multi_region_trail_seen_as_shadow_from_other_region(tk: Trails) -> None:
    everywhere = tk.create(Name="everywhere", IsMultiRegionTrail=True)["TrailARN"]
    local = tk.create(Name="east-only")["TrailARN"]
    west = tk(ALICE, WEST)
    shadows = west.describe_trails()["trailList"]
    assert [(t["TrailARN"], t["HomeRegion"]) for t in shadows] == [(everywhere, EAST)]
    assert west.describe_trails(includeShadowTrails=False)["trailList"] == []
    assert west.describe_trails(trailNameList=["everywhere"])["trailList"] == []  # names: this region only
    assert west.describe_trails(trailNameList=[everywhere])["trailList"] == shadows
    assert _code(west.get_trail, Name="everywhere") == "TrailNotFoundException"
    assert west.get_trail(Name=everywhere)["Trail"]["IsMultiRegionTrail"] is True
    assert west.get_trail_status(Name=everywhere)["IsLogging"] is False
    assert _code(west.get_trail, Name=local) == "TrailNotFoundException"  # no shadow of it in us-west-2
    assert {t["TrailARN"] for t in west.list_trails()["Trails"]} >= {everywhere, local}  # every region


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("update_trail", {"S3KeyPrefix": "p"}),
        ("start_logging", {}),
        ("stop_logging", {}),
        ("delete_trail", {}),
        ("put_event_selectors", {"EventSelectors": [{"ReadWriteType": "All"}]}),
    ],
)
def test_change_from_other_region_invalid_home_region(tk: Trails, operation: str, params: Params) -> None:
    arn = tk.create(Name="home-trail", IsMultiRegionTrail=True)["TrailARN"]
    name = {"TrailName" if operation == "put_event_selectors" else "Name": arn}
    code, message = _error(getattr(tk(ALICE, WEST), operation), **name, **params)
    assert code == "InvalidHomeRegionException"
    assert EAST in message
    assert tk().get_trail(Name=arn)["Trail"]["Name"] == "home-trail"


# The deprecated string members, "" until set (the CLI's get-trail-status example).
OLD_STYLE = ["LatestDeliveryAttemptTime", "LatestNotificationAttemptTime", "TimeLoggingStopped"]
OLD_STYLE += ["LatestNotificationAttemptSucceeded", "LatestDeliveryAttemptSucceeded", "TimeLoggingStarted"]


def test_logging_start_stop_shows_in_status(tk: Trails) -> None:
    tk.create(Name="status-trail")
    fresh = tk().get_trail_status(Name="status-trail")
    fresh.pop("ResponseMetadata")
    assert fresh == {"IsLogging": False, **dict.fromkeys(OLD_STYLE, "")}
    tk().start_logging(Name="status-trail")
    started = tk().get_trail_status(Name="status-trail")
    now = datetime.now(UTC)
    assert started["IsLogging"] is True
    assert now - timedelta(seconds=30) < started["StartLoggingTime"] <= now
    iso = f"{started['StartLoggingTime'].astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
    assert started["TimeLoggingStarted"] == iso
    tk().stop_logging(Name="status-trail")
    stopped = tk().get_trail_status(Name="status-trail")
    assert stopped["IsLogging"] is False
    assert stopped["StopLoggingTime"] >= started["StartLoggingTime"]
    assert stopped["TimeLoggingStopped"] != ""


def test_aws_cli_create_status_describe(srv: TrailkeeperServer, tk: Trails) -> None:
    create = shlex.split("create-trail --name cli-trail --s3-bucket-name audit-logs")
    created = _cli(srv, *create, "--is-multi-region-trail")
    tk.made.append((ALICE, created["TrailARN"]))
    assert (created["TrailARN"], created["IsMultiRegionTrail"]) == (_arn(EAST, A, "cli-trail"), True)
    tk().start_logging(Name="cli-trail")
    status = _cli(srv, "get-trail-status", "--name", "cli-trail")
    assert status["IsLogging"] is True
    assert isinstance(status["StartLoggingTime"], float | int)  # the CLI prints epoch seconds
    # validate-logs finds a trail through the argument-less describe-trails.
    assert _arn(EAST, A, "cli-trail") in [t["TrailARN"] for t in _cli(srv, "describe-trails")["trailList"]]
    create[2] = "x"  # too short a name
    bad = aws_cli(srv.url, ALICE, "cloudtrail", *create)
    assert bad.returncode != 0
    assert "(InvalidTrailNameException)" in bad.stderr


def test_event_selectors_basic_then_advanced(srv: TrailkeeperServer, tk: Trails) -> None:
    arn = tk.create(Name="selector-trail")["TrailARN"]
    default = tk().get_event_selectors(TrailName="selector-trail")["EventSelectors"]
    expected = {"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": []}
    assert default == [{**expected, "ExcludeManagementEventSources": []}]
    data = [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::audit-logs/"]}]
    writes_only = [{"ReadWriteType": "WriteOnly", "DataResources": data}]
    put = tk().put_event_selectors(TrailName=arn, EventSelectors=writes_only)
    assert put["EventSelectors"][0]["ReadWriteType"] == "WriteOnly"
    assert tk().get_trail(Name=arn)["Trail"]["HasCustomEventSelectors"] is True
    category = {"Field": "eventCategory", "Equals": ["Management"]}
    writes = [category, {"Field": "readOnly", "Equals": ["false"]}]
    advanced = [{"Name": "writes", "FieldSelectors": writes}]
    command = shlex.split("put-event-selectors --trail-name selector-trail --advanced-event-selectors")
    out = _cli(srv, *command, json.dumps(advanced))
    assert out["AdvancedEventSelectors"] == advanced
    got = tk().get_event_selectors(TrailName="selector-trail")
    assert (got.get("EventSelectors"), got["AdvancedEventSelectors"]) == (None, advanced)
    wildcard = [{"DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::*"]}]}]
    code, message = _error(tk().put_event_selectors, TrailName=arn, EventSelectors=wildcard)
    assert code == "InvalidEventSelectorsException"
    assert message == "Value arn:aws:s3:::* for DataResources.Values is invalid."
    no_category = [{"FieldSelectors": [{"Field": "readOnly", "Equals": ["true"]}]}]
    code = _code(tk().put_event_selectors, TrailName=arn, AdvancedEventSelectors=no_category)
    assert code == "InvalidEventSelectorsException"


def test_tags_add_list_remove_and_limits(tk: Trails) -> None:
    arn = tk.create(Name="tag-trail", TagsList=[{"Key": "team", "Value": "data"}])["TrailARN"]
    tk().add_tags(ResourceId=arn, TagsList=[{"Key": "team", "Value": "audit"}, {"Key": "owner"}])
    listed = tk().list_tags(ResourceIdList=[arn])["ResourceTagList"]
    assert listed == [{"ResourceId": arn, "TagsList": [{"Key": "team", "Value": "audit"}, {"Key": "owner"}]}]
    tk().remove_tags(ResourceId=arn, TagsList=[{"Key": "team"}])
    assert tk().list_tags(ResourceIdList=[arn])["ResourceTagList"][0]["TagsList"] == [{"Key": "owner"}]
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    assert _code(tk().add_tags, ResourceId=arn, TagsList=many) == "TagsLimitExceededException"
    assert _code(tk().add_tags, ResourceId=arn, TagsList=[{"Key": "aws:x"}]) == "InvalidTagParameterException"
    missing = _arn(EAST, A, "no-such-trail")
    assert _code(tk().list_tags, ResourceIdList=[missing]) == "ResourceNotFoundException"
    code, message = _error(tk(ALICE, WEST).list_tags, ResourceIdList=[arn])
    assert code == "CloudTrailARNInvalidException"
    assert message == f"Region in ARN is wrong, you can only access resources in region {WEST}."


ROLE = f"arn:aws:iam::{A}:role/CloudTrail_CloudWatchLogs_Role"
BAD_GROUP = {"CloudWatchLogsLogGroupArn": "log-group:x", "CloudWatchLogsRoleArn": ROLE}
NOT_MADE = {"TrailNotFoundException", "InvalidTrailNameException"}
TAGS_51 = [{"Key": f"k{i}"} for i in range(51)]
NO_GLOBAL = {"IsMultiRegionTrail": True, "IncludeGlobalServiceEvents": False}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"Name": "ab"}, "InvalidTrailNameException"),
        ({"Name": "my--trail"}, "InvalidTrailNameException"),
        ({"Name": "bad-bucket", "S3BucketName": "Bad_Bucket"}, "InvalidS3BucketNameException"),
        ({"Name": "bad-prefix", "S3KeyPrefix": "p" * 201}, "InvalidS3PrefixException"),
        ({"Name": "bad-topic", "SnsTopicName": "bad topic"}, "InvalidSnsTopicNameException"),
        ({"Name": "bad-kms", "KmsKeyId": "not-a-key"}, "InvalidKmsKeyIdException"),
        ({"Name": "bad-group", **BAD_GROUP}, "InvalidCloudWatchLogsLogGroupArnException"),
        ({"Name": "role-only", "CloudWatchLogsRoleArn": ROLE}, "InvalidParameterCombinationException"),
        ({"Name": "no-global", **NO_GLOBAL}, "InvalidParameterCombinationException"),
        ({"Name": "many-tags", "TagsList": TAGS_51}, "TagsLimitExceededException"),
        ({"Name": "aws-tag", "TagsList": [{"Key": "aws:reserved"}]}, "InvalidTagParameterException"),
    ],
)
def test_create_trail_invalid_parameter_refused_with_aws_code(tk: Trails, params: Params, code: str) -> None:
    assert _code(tk().create_trail, **{"S3BucketName": "audit-logs", **params}) == code
    assert _code(tk().get_trail, Name=params["Name"]) in NOT_MADE


def test_trail_name_or_arn_refused_when_malformed(tk: Trails) -> None:
    malformed = "arn:aws:cloudtrail:us-east-1:1234:trail/x"
    assert _code(tk().get_trail, Name=malformed) == "CloudTrailARNInvalidException"
    assert _code(tk().describe_trails, trailNameList=["a b c"]) == "InvalidTrailNameException"


def test_create_trail_twice_then_sixth_in_region_refused(tk: Trails) -> None:
    tk.create(Name="twice")
    again = _error(tk().create_trail, Name="twice", S3BucketName="audit-logs")
    assert again == ("TrailAlreadyExistsException", f"Trail twice already exists for customer: {A}")
    for i in range(5):
        tk.create(CAROL, "eu-west-1", Name=f"carol-{i}", S3BucketName="carol-logs")
    sixth = _error(tk(CAROL, "eu-west-1").create_trail, Name="carol-5", S3BucketName="carol-logs")
    assert sixth[0] == "MaximumNumberOfTrailsExceededException"
    assert sixth[1] == f"User: {C} already has 5 trails in eu-west-1."


POLICY_MESSAGE = "Incorrect S3 bucket policy is detected for bucket: private-logs"


def test_create_trail_bucket_missing_or_not_writable(tk: Trails) -> None:
    missing = _error(tk().create_trail, Name="lost-trail", S3BucketName="no-such-bucket")
    assert missing == ("S3BucketDoesNotExistException", "S3 bucket no-such-bucket does not exist!")
    closed = _error(tk(CAROL).create_trail, Name="carol-trail", S3BucketName="private-logs")
    assert closed == ("InsufficientS3BucketPolicyException", POLICY_MESSAGE)
    tk.create(BOB, Name="bob-trail", S3BucketName="audit-logs")  # bob is a writer of audit-logs


def test_other_account_cannot_see_or_change_a_trail(tk: Trails) -> None:
    arn = tk.create(Name="alice-only")["TrailARN"]
    bob = tk(BOB)
    assert arn not in [t["TrailARN"] for t in bob.describe_trails()["trailList"]]
    assert arn not in [t["TrailARN"] for t in bob.list_trails()["Trails"]]
    code, message = _error(bob.get_trail, Name=arn)
    assert (code, message) == ("TrailNotFoundException", f"Unknown trail: {arn} for the user: {B}")
    assert _code(bob.get_trail, Name="alice-only") == "TrailNotFoundException"
    assert _code(bob.delete_trail, Name=arn) == "TrailNotFoundException"
    assert _code(bob.add_tags, ResourceId=arn, TagsList=[{"Key": "k"}]) == "CloudTrailARNInvalidException"
    assert tk().get_trail(Name=arn)["Trail"]["Name"] == "alice-only"


def test_organization_trail_read_only_for_member(tk: Trails) -> None:
    arn = tk.create(ROOT_A, Name="org-trail", IsOrganizationTrail=True, IsMultiRegionTrail=True)["TrailARN"]
    tk(ROOT_A).start_logging(Name="org-trail")
    bob = tk(BOB)
    seen = [t for t in bob.describe_trails()["trailList"] if t["TrailARN"] == arn]
    assert [(t["IsOrganizationTrail"], t["HomeRegion"]) for t in seen] == [(True, EAST)]
    assert bob.describe_trails(includeShadowTrails=False)["trailList"] == []
    assert bob.get_trail(Name=arn)["Trail"]["Name"] == "org-trail"
    assert _code(bob.get_trail, Name="org-trail") == "TrailNotFoundException"  # members need the ARN
    assert bob.get_trail_status(Name=arn)["IsLogging"] is True
    assert _code(bob.stop_logging, Name=arn) == "NotOrganizationMasterAccountException"
    assert _code(bob.delete_trail, Name=arn) == "NotOrganizationMasterAccountException"
    assert tk(ROOT_A).get_trail_status(Name=arn)["IsLogging"] is True
    org_trail = {"S3BucketName": "audit-logs", "IsOrganizationTrail": True}
    assert _code(bob.create_trail, Name="bob-org", **org_trail) == "NotOrganizationMasterAccountException"
    assert _code(tk(CAROL).create_trail, Name="carol-org", **org_trail) == "OrganizationsNotInUseException"


def test_control_calls_recorded_in_event_history(tk: Trails) -> None:
    client = tk()
    created = tk.create(Name="recorded-trail")
    described = client.describe_trails(trailNameList=["recorded-trail"])
    with pytest.raises(ClientError) as failed:
        client.get_trail_status(Name="never-made")
    write = find_event(client, created["ResponseMetadata"]["RequestId"], "CreateTrail")
    read = find_event(client, described["ResponseMetadata"]["RequestId"], "DescribeTrails")
    error = find_event(client, failed.value.response["ResponseMetadata"]["RequestId"], "GetTrailStatus")
    for record in (write, read, error):
        where = (record["eventSource"], record["awsRegion"], record["recipientAccountId"])
        assert where == ("cloudtrail.amazonaws.com", EAST, A)
    assert (write["readOnly"], write["requestParameters"]["name"]) == (False, "recorded-trail")
    assert write["responseElements"]["trailARN"] == created["TrailARN"]
    assert (read["readOnly"], read["responseElements"]) == (True, None)
    assert (error["readOnly"], error["errorCode"]) == (True, "TrailNotFoundException")
    assert error["errorMessage"] == f"Unknown trail: {_arn(EAST, A, 'never-made')} for the user: {A}"
    by_name = [{"AttributeKey": "ResourceName", "AttributeValue": "recorded-trail"}]
    assert "CreateTrail" in {e["EventName"] for e in client.lookup_events(LookupAttributes=by_name)["Events"]}


def test_trails_survive_a_kill_and_restart(srv: TrailkeeperServer, tk: Trails) -> None:
    """Last in this module: it kills (-9) and restarts the module's server; clients reconnect to its port."""
    arn = tk.create(Name="kept-trail", TagsList=[{"Key": "k", "Value": "v"}])["TrailARN"]
    tk().start_logging(Name="kept-trail")
    srv.restart(kill=True)
    assert tk().get_trail(Name="kept-trail")["Trail"]["S3BucketName"] == "audit-logs"
    assert tk().get_trail_status(Name="kept-trail")["IsLogging"] is True
    kept = tk().list_tags(ResourceIdList=[arn])["ResourceTagList"]
    assert kept == [{"ResourceId": arn, "TagsList": [{"Key": "k", "Value": "v"}]}]
