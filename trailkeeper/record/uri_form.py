"""S3-style requestParameters: an operation, its parsed params and the Host header in, the record's form out.

S3 logs a request as it travelled, not by model member (real GetBucketLocation record:
``{"bucketName": "b", "location": "", "Host": "s3.us-east-1.amazonaws.com"}``): the URI labels
under their own names, the sub-resource flags of the request URI (``?location``) and the
query-string members by their wire names, values as strings, and the Host header. Body members
are not written: the S3 view serves reads only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.model import OperationModel

__all__ = ["HIDDEN", "uri_form"]

HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def uri_form(
    op: OperationModel, params: Mapping[str, Any], labels: Mapping[str, str], host: str
) -> dict[str, Any] | None:
    """The record's requestParameters for a REST call ``params`` of ``op`` sent to ``host``."""
    form: dict[str, Any] = {}
    shape = op.input_shape
    members = shape.members if shape is not None else {}
    for name, member in members.items():
        if name in params and member.serialization.get("location") == "uri":
            value = HIDDEN if member.metadata.get("sensitive") else params[name]
            form[labels.get(name, name[:1].lower() + name[1:])] = value
    _, _, flags = op.http.get("requestUri", "").partition("?")
    for flag in filter(None, flags.split("&")):
        key, _, value = flag.partition("=")
        form[key] = value
    for name, member in members.items():
        if name in params and member.serialization.get("location") == "querystring":
            wire = member.serialization.get("name", name)
            form[wire] = HIDDEN if member.metadata.get("sensitive") else _text(params[name])
    if host:
        form["Host"] = host
    return form or None
