"""The parsed parameters in, the request a backend receives out: botocore serializes them afresh.

A backend never sees the caller's bytes. It gets exactly the call the record describes, so a
body member that duplicates a URI label (moto reads the body first) cannot steer the call to
another resource than the one recorded, and members the model does not know are dropped.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import prepare_request_dict
from botocore.model import OperationModel
from botocore.serialize import Serializer, create_serializer
from botocore.validate import ParamValidationDecorator

from trailkeeper.capture.request import HttpRequest

__all__ = ["canonical_request"]

# Headers of the caller's request that a backend may still want: who is calling, for its logs.
_KEPT = ("user-agent",)


@functools.cache
def _serializer(protocol: str) -> Serializer | ParamValidationDecorator:
    # Validation already happened on our side (validate_required); botocore's would differ in wording.
    return create_serializer(protocol, include_validation=False)


def _path_and_query(serialized: dict[str, Any], endpoint: str) -> tuple[str, str]:
    """The path and query of the URL botocore builds for ``serialized`` at ``endpoint``."""
    prepare_request_dict(serialized, endpoint_url=endpoint)
    url = urlsplit(serialized["url"])
    return url.path or "/", url.query


@functools.lru_cache(maxsize=1024)
def _bare_path(endpoint: str, url_path: str, host_prefix: str | None) -> tuple[str, str]:
    return _path_and_query({"url_path": url_path, "query_string": "", "host_prefix": host_prefix}, endpoint)


def canonical_request(
    protocol: str, op: OperationModel, params: dict[str, Any], original: HttpRequest
) -> HttpRequest:
    """``original`` rebuilt from ``params`` by botocore's serializer for ``protocol``."""
    serialized = _serializer(protocol).serialize_to_request(params, op)
    endpoint = f"{original.scheme}://{original.host or 'localhost'}"
    if serialized["query_string"]:
        path, query = _path_and_query(serialized, endpoint)
    else:  # the common case (every JSON call): the URL depends only on these three values
        path, query = _bare_path(endpoint, serialized["url_path"], serialized.get("host_prefix"))
    body = serialized["body"]
    if isinstance(body, str):
        body = body.encode("utf-8")
    headers = {k.lower(): str(v) for k, v in serialized["headers"].items()}
    for name in _KEPT:
        if name in original.headers:
            headers[name] = original.headers[name]
    headers["host"] = original.host
    return HttpRequest(
        method=serialized["method"],
        path=path,
        query=query,
        headers=headers,
        body=bytes(body or b""),
        peer=original.peer,
        scheme=original.scheme,
        tls=original.tls,
    )
