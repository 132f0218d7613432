"""Storage errors: what a bucket operation went wrong with in, S3's error code, message and status out.

TrailkeeperError
 +-- StorageUnavailable   the store could not be reached or failed (retry later; delivery catches it)
 +-- AwsError
      +-- S3Error         an S3 error as S3 answers it, with its extra elements (<Key>, <BucketName>, ...)

Messages are S3's own wording (moto's S3 exceptions copy them from real responses).
"""

from __future__ import annotations

from collections.abc import Mapping

from trailkeeper.errors import AwsError, TrailkeeperError

__all__ = [
    "S3Error",
    "StorageUnavailable",
    "access_denied",
    "bucket_already_exists",
    "bucket_already_owned",
    "invalid_argument",
    "invalid_bucket_name",
    "invalid_range",
    "key_too_long",
    "method_not_allowed",
    "no_such_bucket",
    "no_such_key",
    "not_implemented",
    "service_unavailable",
]


class StorageUnavailable(TrailkeeperError):
    """The store failed in a way a retry may cure (endpoint down, throttled, refused credentials).

    ``code`` is the failure as the endpoint named it (an S3 error code) or the transport error's
    type name; it is what GetTrailStatus shows as the latest delivery error.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class S3Error(AwsError):
    """An S3 error; ``xml_details`` are written as extra elements of the rest-xml <Error> body."""

    def __init__(
        self, code: str, message: str, status: int, details: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(code, message, status)
        self.xml_details: Mapping[str, str] = dict(details or {})


def no_such_bucket(bucket: str) -> S3Error:
    return S3Error("NoSuchBucket", "The specified bucket does not exist", 404, {"BucketName": bucket})


def no_such_key(key: str) -> S3Error:
    return S3Error("NoSuchKey", "The specified key does not exist.", 404, {"Key": key})


def access_denied() -> S3Error:
    return S3Error("AccessDenied", "Access Denied", 403)


def method_not_allowed(method: str, resource_type: str) -> S3Error:
    details = {"Method": method, "ResourceType": resource_type}
    return S3Error(
        "MethodNotAllowed", "The specified method is not allowed against this resource.", 405, details
    )


def not_implemented() -> S3Error:
    return S3Error(
        "NotImplemented", "A header you provided implies functionality that is not implemented.", 501
    )


def invalid_argument(message: str, name: str, value: str) -> S3Error:
    return S3Error("InvalidArgument", message, 400, {"ArgumentName": name, "ArgumentValue": value})


def invalid_range(requested: str, size: int) -> S3Error:
    details = {"RangeRequested": requested, "ActualObjectSize": str(size)}
    return S3Error("InvalidRange", "The requested range is not satisfiable", 416, details)


def invalid_bucket_name(bucket: str) -> S3Error:
    return S3Error("InvalidBucketName", "The specified bucket is not valid.", 400, {"BucketName": bucket})


def key_too_long(size: int, limit: int) -> S3Error:
    details = {"Size": str(size), "MaxSizeAllowed": str(limit)}
    return S3Error("KeyTooLongError", "Your key is too long", 400, details)


def bucket_already_owned(bucket: str) -> S3Error:
    message = "Your previous request to create the named bucket succeeded and you already own it."
    return S3Error("BucketAlreadyOwnedByYou", message, 409, {"BucketName": bucket})


def bucket_already_exists(bucket: str) -> S3Error:
    message = (
        "The requested bucket name is not available. The bucket namespace is shared by all users of "
        "the system. Please select a different name and try again."
    )
    return S3Error("BucketAlreadyExists", message, 409, {"BucketName": bucket})


def service_unavailable(err: StorageUnavailable) -> S3Error:
    """How the S3 view answers a read its store could not serve (a remote endpoint is down)."""
    return S3Error("ServiceUnavailable", f"The bucket's storage endpoint failed: {err.code}", 503)
