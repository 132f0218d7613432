"""CloudTrail's control-plane errors: the facts of one failure in, an AwsError with AWS's code and text out.

Every CloudTrail error is HTTP 400 with ``__type`` = the exception name (the model's error shapes
carry no status). Texts marked CONFIRMED were seen in real AWS answers (source beside each); the
rest follow the model's documentation of the exception and are UNCONFIRMED wording.
"""

from __future__ import annotations

from trailkeeper.errors import AwsError

__all__ = [
    "MAX_TAGS",
    "MAX_TRAILS_PER_REGION",
    "arn_invalid",
    "arn_owners",
    "arn_region",
    "bucket_missing",
    "bucket_name_invalid",
    "bucket_policy",
    "cloudwatch_group_invalid",
    "cloudwatch_role_invalid",
    "home_region",
    "kms_key_invalid",
    "not_in_organization",
    "not_management_account",
    "parameter_combination",
    "prefix_invalid",
    "resource_not_found",
    "selectors_invalid",
    "tag_invalid",
    "tags_limit",
    "topic_invalid",
    "trail_exists",
    "trail_name_invalid",
    "trail_not_found",
    "trails_limit",
]

MAX_TRAILS_PER_REGION = 5  # UG "Quotas in CloudTrail": 5 trails per Region, cannot be raised
MAX_TAGS = 50  # TagsLimitExceededException doc: "Currently, the limit is 50."


def _err(code: str, message: str) -> AwsError:
    return AwsError(code, message, 400)


def trail_not_found(name: str, account_id: str) -> AwsError:
    # CONFIRMED: aws/aws-sdk-go-v2#1957 (GetEventSelectors), terraform and moto agree.
    return _err("TrailNotFoundException", f"Unknown trail: {name} for the user: {account_id}")


def trail_exists(name: str, account_id: str) -> AwsError:
    # CONFIRMED: trussworks/terraform-aws-cloudtrail#238.
    return _err("TrailAlreadyExistsException", f"Trail {name} already exists for customer: {account_id}")


def trails_limit(account_id: str, region: str) -> AwsError:
    # CONFIRMED: linz/geostore#1450 (CloudFormation relaying CloudTrail's text).
    return _err(
        "MaximumNumberOfTrailsExceededException",
        f"User: {account_id} already has {MAX_TRAILS_PER_REGION} trails in {region}.",
    )


def trail_name_invalid(message: str) -> AwsError:
    return _err("InvalidTrailNameException", message)


def bucket_missing(bucket: str) -> AwsError:
    # moto's wording (moto/cloudtrail/exceptions.py); AWS's own is UNCONFIRMED.
    return _err("S3BucketDoesNotExistException", f"S3 bucket {bucket} does not exist!")


def bucket_policy(bucket: str) -> AwsError:
    # CONFIRMED: awsdocs/aws-cloudtrail-user-guide#24, hashicorp/terraform#29991.
    return _err(
        "InsufficientS3BucketPolicyException", f"Incorrect S3 bucket policy is detected for bucket: {bucket}"
    )


def bucket_name_invalid(bucket: str) -> AwsError:
    return _err("InvalidS3BucketNameException", f"S3 bucket name {bucket} is not valid.")


def prefix_invalid(prefix: str) -> AwsError:
    return _err("InvalidS3PrefixException", f"S3 prefix {prefix} is not valid.")


def topic_invalid(topic: str) -> AwsError:
    return _err("InvalidSnsTopicNameException", f"SNS topic name {topic} is not valid.")


def kms_key_invalid(key: str) -> AwsError:
    return _err("InvalidKmsKeyIdException", f"KMS key {key} is not valid.")


def cloudwatch_group_invalid(arn: str) -> AwsError:
    return _err(
        "InvalidCloudWatchLogsLogGroupArnException", f"CloudWatch Logs log group ARN {arn} is not valid."
    )


def cloudwatch_role_invalid(arn: str) -> AwsError:
    return _err("InvalidCloudWatchLogsRoleArnException", f"CloudWatch Logs role ARN {arn} is not valid.")


def parameter_combination(message: str) -> AwsError:
    return _err("InvalidParameterCombinationException", message)


def home_region(arn: str, home: str, region: str) -> AwsError:
    return _err(
        "InvalidHomeRegionException",
        f"Trail {arn} cannot be changed from {region}; call this operation in its home region, {home}.",
    )


def arn_invalid(arn: str) -> AwsError:
    return _err("CloudTrailARNInvalidException", f"ARN {arn} is not a valid CloudTrail trail ARN.")


def arn_region(region: str) -> AwsError:
    # CONFIRMED: aws/aws-sdk-java#1309 (a trail ARN of another Region).
    return _err(
        "CloudTrailARNInvalidException",
        f"Region in ARN is wrong, you can only access resources in region {region}.",
    )


def arn_owners() -> AwsError:
    # CONFIRMED text (gruntwork-io/cloud-nuke's recorded ListTags failure on an organization trail).
    return _err("CloudTrailARNInvalidException", "You cannot have resources belonging to multiple owners")


def resource_not_found(arn: str) -> AwsError:
    return _err("ResourceNotFoundException", f"Resource {arn} does not exist.")


def selectors_invalid(message: str) -> AwsError:
    return _err("InvalidEventSelectorsException", message)


def tag_invalid(message: str) -> AwsError:
    return _err("InvalidTagParameterException", message)


def tags_limit() -> AwsError:
    return _err(
        "TagsLimitExceededException",
        "The number of tags per trail has exceeded the permitted amount. "
        f"Currently, the limit is {MAX_TAGS}.",
    )


def not_in_organization(account_id: str) -> AwsError:
    return _err(
        "OrganizationsNotInUseException",
        f"Account {account_id} is not a member of an organization in AWS Organizations.",
    )


def not_management_account(account_id: str) -> AwsError:
    return _err(
        "NotOrganizationMasterAccountException",
        f"Account {account_id} is not the management account of its organization in AWS Organizations.",
    )
