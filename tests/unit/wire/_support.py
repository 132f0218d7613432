"""Wire-test helpers: ServiceEntries from botocore models, the HttpRequest botocore sends, what it parses."""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlsplit

import botocore.session
from botocore.awsrequest import HeadersDict, create_request_object, prepare_request_dict
from botocore.model import OperationModel, ServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from trailkeeper.capture.catalog import Protocol, ServiceEntry
from trailkeeper.capture.request import HttpRequest
from trailkeeper.capture.wire.types import WireResponse
from trailkeeper.record.rules import ServiceRules

__all__ = ["ENDPOINT", "botocore_parse", "entry", "http_request", "raw_request"]

ENDPOINT = "http://127.0.0.1:4566"


@functools.cache
def entry(name: str) -> ServiceEntry:
    """One entry per botocore service, with empty rules (the rules loader is not under test here)."""
    loader = botocore.session.get_session().get_component("data_loader")
    model = ServiceModel(loader.load_service_model(name, "service-2"), name)
    rules = ServiceRules(
        service=name,
        event_source=f"{model.endpoint_prefix}.amazonaws.com",
        read_only=frozenset(),
        null_response=frozenset(),
        omit={},
        omit_everywhere=frozenset(),
        hide={},
        resources={},
        data_events=frozenset(),
    )
    protocol: Protocol = model.metadata["protocol"]
    return ServiceEntry(name, model.signing_name, model, protocol, rules, local=name in ("sts", "cloudtrail"))


def http_request(service: str, operation: str, params: dict[str, Any]) -> HttpRequest:
    """The request a boto3 client sends for ``params``: botocore's own serializer and request preparation."""
    service_entry = entry(service)
    op = service_entry.model.operation_model(operation)
    request_dict = create_serializer(service_entry.protocol).serialize_to_request(params, op)
    prepare_request_dict(request_dict, endpoint_url=ENDPOINT)
    prepared = create_request_object(request_dict).prepare()
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    return raw_request(
        prepared.method,
        url.path,
        body.encode() if isinstance(body, str) else body,
        {k.lower(): v for k, v in prepared.headers.items()},
        query=url.query,
    )


def raw_request(
    method: str, path: str = "/", body: bytes = b"", headers: dict[str, str] | None = None, *, query: str = ""
) -> HttpRequest:
    return HttpRequest(
        method=method, path=path, query=query, headers=headers or {}, body=body, peer="127.0.0.1"
    )


def botocore_parse(protocol: str, op: OperationModel | None, resp: WireResponse) -> dict[str, Any]:
    """What a boto3 client makes of ``resp``."""
    response = {"status_code": resp.status, "headers": HeadersDict(resp.headers), "body": resp.body}
    shape = op.output_shape if op else None
    parsed: dict[str, Any] = create_parser(protocol).parse(response, shape)  # type: ignore[arg-type]
    return parsed
