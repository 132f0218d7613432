"""Rules files: the shipped four load against the installed models; broken ones fail loudly."""

from __future__ import annotations

import re

import pytest
from botocore.model import ServiceModel

from trailkeeper.errors import RulesError
from trailkeeper.record.rules import ResourceRule, ServiceRules, load_rules, parse_path, rules_from_toml

from .support import SEEDS, SERVICES

GOOD = """
[service]
event_source = "glue.amazonaws.com"
[operations]
read_only = ["GetTable"]
write = ["CreateTable"]
null_response = "@read_only"
[omit]
everywhere = ["ConnectionProperties"]
CreateConnection = ["ConnectionInput.SparkProperties"]
[hide]
CreateTable = ["TableInput.Parameters"]
[arns]
"AWS::Glue::Table" = "arn:{partition}:glue:{region}:{account}:table/{request.DatabaseName}/{name}"
[resources]
GetTable = [{ type = "AWS::Glue::Table", name = "request.Name" }]
"""


def _glue(models: dict[str, ServiceModel], text: str) -> ServiceRules:
    return rules_from_toml(text, models["glue"], service="glue", source="broken.toml")


@pytest.mark.parametrize("service", SERVICES)
def test_load_rules_shipped_file_loads_against_installed_model(
    service: str, models: dict[str, ServiceModel]
) -> None:
    rules = load_rules(service, models[service])
    assert rules.service == service
    assert rules.event_source.endswith(".amazonaws.com")
    assert rules.source == f"{service}.toml"


@pytest.mark.parametrize("service", SERVICES)
def test_load_rules_every_model_operation_classified_exactly_once(
    service: str, rules: dict[str, ServiceRules], models: dict[str, ServiceModel]
) -> None:
    loaded = rules[service]
    operations = set(models[service].operation_names)
    assert operations - loaded.read_only - loaded.write == set()
    assert loaded.read_only & loaded.write == set()
    assert (loaded.read_only | loaded.write) - operations == set()


def test_load_rules_glue_null_response_equals_guide_list(rules: dict[str, ServiceRules]) -> None:
    seeds = sorted(SEEDS.glob("000_*.txt"))
    if not seeds:
        pytest.skip("Glue seed document not available")
    text = seeds[0].read_text("utf-8")
    listed = text.split("following APIs:", 1)[1].split("To be notified", 1)[0].split()
    assert len(listed) == 31
    assert rules["glue"].null_response == frozenset(listed)


def test_load_rules_cloudtrail_null_response_is_read_only(rules: dict[str, ServiceRules]) -> None:
    assert rules["cloudtrail"].null_response == rules["cloudtrail"].read_only
    assert "LookupEvents" in rules["cloudtrail"].null_response


def test_load_rules_sts_hides_session_token_of_every_credential_call(
    rules: dict[str, ServiceRules], models: dict[str, ServiceModel]
) -> None:
    sts = rules["sts"]
    outputs = {op: models["sts"].operation_model(op).output_shape for op in models["sts"].operation_names}
    issuers = {op for op, shape in outputs.items() if shape is not None and "Credentials" in shape.members}
    assert issuers
    for op in issuers:
        assert "Credentials.SessionToken" in sts.hide[op]
        assert "Credentials.SecretAccessKey" in sts.omit[op]


def test_rules_from_toml_valid_document_builds_rules(models: dict[str, ServiceModel]) -> None:
    rules = _glue(models, GOOD)
    assert rules.null_response == frozenset({"GetTable"})
    assert rules.omit["CreateConnection"] == frozenset({"ConnectionInput.SparkProperties"})
    assert rules.resources["GetTable"] == (
        ResourceRule(
            type="AWS::Glue::Table",
            name_path="request.Name",
            arn="arn:{partition}:glue:{region}:{account}:table/{request.DatabaseName}/{name}",
        ),
    )


@pytest.mark.parametrize(
    ("broken", "entry"),
    [
        (GOOD.replace('write = ["CreateTable"]', 'write = ["GetTable"]'), "[operations]"),
        (
            GOOD.replace('CreateConnection = ["ConnectionInput.SparkProperties"]', 'Nope = ["A"]'),
            "[omit.Nope]",
        ),
        (
            GOOD.replace("ConnectionInput.SparkProperties", "ConnectionInput.Sparks"),
            "[omit.CreateConnection]",
        ),
        (GOOD.replace('"ConnectionProperties"]', '"NoSuchMemberAnywhere"]'), "[omit.everywhere]"),
        (GOOD.replace("TableInput.Parameters", "TableInput.Name.Deeper"), "[hide.CreateTable]"),
        (GOOD.replace("TableInput.Parameters", "TableInput[*]"), "[hide.CreateTable]"),
        (GOOD.replace('name = "request.Name"', 'name = "request.Nam"'), "[resources.GetTable#1]"),
        (GOOD.replace('name = "request.Name"', 'name = "Name"'), "[resources.GetTable#1]"),
        (GOOD.replace("{request.DatabaseName}", "{request.Database}"), "[resources.GetTable#1]"),
        (GOOD.replace("{request.DatabaseName}", "{catalog}"), "[resources.GetTable#1]"),
        (
            GOOD.replace('name = "request.Name" }', 'name = "request.Name", color = "x" }'),
            "[resources.GetTable#1]",
        ),
        (GOOD + "\n[extra]\n", "[top level]"),
        (GOOD + '\n[request_form]\nstyle = "body"\n', "[request_form]"),
        (GOOD + '\n[request_form]\nstyle = "uri"\nlabels = { Bucket = 1 }\n', "[request_form]"),
    ],
)
def test_rules_from_toml_broken_entry_raises_rules_error_naming_file_and_entry(
    broken: str, entry: str, models: dict[str, ServiceModel]
) -> None:
    with pytest.raises(RulesError, match=r"^broken\.toml: " + re.escape(entry)):
        _glue(models, broken)


def test_rules_from_toml_invalid_toml_raises_rules_error(models: dict[str, ServiceModel]) -> None:
    with pytest.raises(RulesError, match=r"^broken\.toml: not valid TOML"):
        _glue(models, "[service\n")


def test_load_rules_unknown_service_raises_rules_error(models: dict[str, ServiceModel]) -> None:
    with pytest.raises(RulesError, match=r"no-such-service\.toml"):
        load_rules("no-such-service", models["glue"])


def test_rules_from_toml_names_the_installed_model_lacks_are_dropped(models: dict[str, ServiceModel]) -> None:
    # A rules file spans botocore releases: an operation a release renamed or retired is dropped,
    # and an "unmodeled" one that the release now models is classified by its list like any other.
    text = GOOD.replace('read_only = ["GetTable"]', 'read_only = ["GetTable", "RetiredOperation"]')
    text = text.replace("[operations]", '[operations]\nunmodeled = ["GetTable", "NotYetModeled"]')
    rules = _glue(models, text)
    assert "RetiredOperation" not in rules.read_only
    assert "GetTable" in rules.read_only
    assert rules.unmodeled == frozenset({"NotYetModeled"})


def test_load_rules_unmodeled_glue_name_accepted_only_while_model_lacks_it(
    rules: dict[str, ServiceRules], models: dict[str, ServiceModel]
) -> None:
    assert rules["glue"].unmodeled == frozenset({"GetObjects"})
    assert "GetObjects" not in models["glue"].operation_names


def test_parse_path_list_steps_become_any_tokens() -> None:
    assert parse_path("Entries[*].PartitionValueList[*]") == ("Entries", "[*]", "PartitionValueList", "[*]")
    with pytest.raises(ValueError, match="bad path step"):
        parse_path("A..B")


@pytest.mark.parametrize("service", SERVICES)
def test_load_rules_every_arn_template_ends_in_the_name(service: str, rules: dict[str, ServiceRules]) -> None:
    # index.short_name reads a resource's name back from the end of its ARN.
    for rules_of_op in rules[service].resources.values():
        for rule in rules_of_op:
            if rule.template:
                assert rule.template[-1].placeholder == "name", rule
