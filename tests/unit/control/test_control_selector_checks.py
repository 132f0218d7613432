"""PutEventSelectors input rules: valid selectors as stored; InvalidEventSelectorsException otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from trailkeeper.control.selector_checks import check_selectors
from trailkeeper.errors import AwsError

MANAGEMENT = {"Field": "eventCategory", "Equals": ["Management"]}


def _refusal(params: dict[str, Any]) -> str:
    with pytest.raises(AwsError) as info:
        check_selectors(params)
    assert info.value.code == "InvalidEventSelectorsException"
    return info.value.message


def test_basic_selector_gets_aws_defaults() -> None:
    basic, advanced = check_selectors({"EventSelectors": [{"IncludeManagementEvents": False}]})
    assert advanced is None
    assert basic == (
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": False,
            "DataResources": [],
            "ExcludeManagementEventSources": [],
        },
    )


def test_advanced_selector_kept_as_given() -> None:
    given = {"Name": "writes", "FieldSelectors": [MANAGEMENT, {"Field": "readOnly", "Equals": ["false"]}]}
    basic, advanced = check_selectors({"AdvancedEventSelectors": [given]})
    assert (basic, advanced) == (None, (given,))


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:s3",
        "arn:aws:s3:::",
        "arn:aws:s3:::amzn-s3-demo-bucket1/",
        "arn:aws:s3:::amzn-s3-demo-bucket1/example-images",
    ],
)
def test_basic_s3_data_values_accepted(value: str) -> None:
    check_selectors({"EventSelectors": [{"DataResources": [{"Type": "AWS::S3::Object", "Values": [value]}]}]})


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        # CONFIRMED texts from real answers (see selector_checks.py).
        (
            {"DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::*"]}]},
            "Value arn:aws:s3:::* for DataResources.Values is invalid.",
        ),
        (
            {"DataResources": [{"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda:*"]}]},
            "Value arn:aws:lambda:* for DataResources.Values is invalid.",
        ),
        (
            {"DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::bucket-without-slash"]}]},
            "Value arn:aws:s3:::bucket-without-slash for DataResources.Values is invalid.",
        ),
        ({"ReadWriteType": "read-only"}, "Value read-only for ReadWriteType is invalid."),
        (
            {"DataResources": [{"Type": "AWS::SNS::Topic", "Values": ["arn:aws:sns"]}]},
            "Value AWS::SNS::Topic for DataResources.Type is invalid.",
        ),
        (
            {"ExcludeManagementEventSources": ["s3.amazonaws.com"]},
            "Value s3.amazonaws.com for ExcludeManagementEventSources is invalid.",
        ),
    ],
)
def test_basic_selector_refused(selector: dict[str, Any], message: str) -> None:
    assert _refusal({"EventSelectors": [selector]}) == message


def test_basic_selectors_limited_to_five() -> None:
    assert "(1 to 5)" in _refusal({"EventSelectors": [{}] * 6})
    assert "(1 to 5)" in _refusal({"EventSelectors": []})


def test_basic_data_values_limited_to_250_over_all_selectors() -> None:
    values = [f"arn:aws:s3:::bucket-{i:03d}/" for i in range(126)]
    selector = {"DataResources": [{"Type": "AWS::S3::Object", "Values": values}]}
    assert _refusal({"EventSelectors": [selector, selector]}) == (
        "Specify a valid number of DataResources.Values (0 to 250) for all your selectors"
    )


def test_basic_and_advanced_together_refused() -> None:
    message = _refusal({"EventSelectors": [{}], "AdvancedEventSelectors": [{"FieldSelectors": [MANAGEMENT]}]})
    assert "not both" in message
    assert "not both" in _refusal({})


@pytest.mark.parametrize(
    ("conditions", "fragment"),
    [
        ([{"Field": "eventName", "Equals": ["CreateTrail"]}], "must have an eventCategory"),
        ([MANAGEMENT, {"Field": "requestParameters.x", "Equals": ["1"]}], "requestParameters.x"),
        ([{"Field": "eventCategory", "StartsWith": ["Manage"]}], "supports only the Equals operator"),
        ([MANAGEMENT, {"Field": "readOnly", "NotEquals": ["true"]}], "supports only the Equals operator"),
        ([MANAGEMENT, {"Field": "readOnly", "Equals": ["yes"]}], "Value yes for readOnly is invalid."),
        ([{"Field": "eventCategory", "Equals": ["Insight"]}], "Value Insight for eventCategory is invalid."),
        ([MANAGEMENT, {"Field": "eventSource"}], "at least one operator"),
        ([{"Field": "eventCategory", "Equals": ["Data"]}], "must have a resources.type"),
        ([{"Field": "eventCategory", "Equals": ["NetworkActivity"]}], "must have a eventSource"),
    ],
)
def test_advanced_selector_refused(conditions: list[dict[str, Any]], fragment: str) -> None:
    assert fragment in _refusal({"AdvancedEventSelectors": [{"FieldSelectors": conditions}]})


def test_advanced_values_limited_to_500() -> None:
    names = [f"Op{i}" for i in range(250)]
    selector = {"FieldSelectors": [MANAGEMENT, {"Field": "eventName", "Equals": names}]}
    check_selectors({"AdvancedEventSelectors": [selector]})  # 251 values
    assert "up to 500 values" in _refusal({"AdvancedEventSelectors": [selector, selector]})  # 502
