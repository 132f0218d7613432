"""Hypothesis strategies for hostile requests, per wire protocol: botocore models in, raw HTTP requests out.

A request is drawn as method, path, query, headers and body, then sent unsigned, with a garbage
Authorization header, or validly signed with botocore's own SigV4 signers (so the parser behind
the verifier is what gets exercised). Bodies mix plausible shapes (the operation's own member
names with values of the wrong type) with outright garbage: invalid UTF-8, deep nesting, huge
values, duplicate keys, out-of-range numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import botocore.session
import httpx
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import ServiceModel
from hypothesis import strategies as st

from tests.e2e.conftest import ALICE, BOB, Keys

__all__ = [
    "RawRequest",
    "aws_style_error",
    "json_requests",
    "odd_requests",
    "query_requests",
    "rest_requests",
    "send",
]

_SESSION = botocore.session.get_session()
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
# Printable ASCII without surrounding blanks: what HTTP/1.1 lets a client send as a header value.
_HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=200).map(str.strip)


def model(service: str) -> ServiceModel:
    return _SESSION.get_service_model(service)


@dataclass(frozen=True)
class RawRequest:
    service: str  # the signing name a valid signature is made for
    method: str
    path: str  # already percent-encoded: sent and signed byte for byte
    query: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    auth: str = "signed"  # signed | unsigned | garbage | other-service | bob


# -- JSON values, plausible and hostile --------------------------------------------------------------

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def _shaped(draw: st.DrawFn, members: list[str]) -> dict[str, Any]:
    """The operation's own member names, each with a value of any (usually wrong) type."""
    names = draw(st.lists(st.sampled_from(members), max_size=5, unique=True)) if members else []
    return {name: draw(_JSON) for name in names}


def _raw_bodies() -> st.SearchStrategy[bytes]:
    """Bodies no JSON encoder would produce."""
    depth = st.integers(min_value=200, max_value=5000)
    return st.one_of(
        st.binary(max_size=300),
        depth.map(lambda n: b"[" * n + b"]" * n),
        depth.map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
        st.integers(min_value=1, max_value=1_200_000).map(lambda n: b'{"Name": "' + b"x" * n + b'"}'),
        st.sampled_from(
            [
                b"",
                b"null",
                b"[]",
                b'"text"',
                b"1e999999",
                b'{"Name": 1e400}',
                b'{"Name": "\xff\xfe\xfd"}',
                b'{"Name": "\\ud800"}',
                b'{"Name": "a", "Name": 5}',
                b'{"MaxResults": 123456789012345678901234567890}',
                b'{"Name": NaN}',
                b"\xef\xbb\xbf{}",
                b'{"a":1',
            ]
        ),
    )


def _json_body(members: list[str]) -> st.SearchStrategy[bytes]:
    plausible = st.one_of(_shaped(members), _JSON).map(lambda v: json.dumps(v).encode())
    return st.one_of(plausible, plausible, _raw_bodies())


# -- headers and signing modes ---------------------------------------------------------------------

_ODD_HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "x-amz-date",
            "x-amz-security-token",
            "x-amz-content-sha256",
            "content-encoding",
            "x-amz-target",
            "x-amz-user-agent",
            "x-forwarded-for",
            "expect",
            "content-md5",
            "x-amz-expected-bucket-owner",
            "range",
            "x-tk-junk",
        ]
    ),
    st.one_of(_HEADER_TEXT, st.integers(min_value=1, max_value=8000).map(lambda n: "v" * n)),
    max_size=3,
)
_AUTH = st.sampled_from(["signed"] * 6 + ["unsigned", "garbage", "other-service", "bob"])


@st.composite
def json_requests(draw: st.DrawFn, service: str) -> RawRequest:
    """JSON 1.1: POST / with X-Amz-Target naming a real operation (mostly) and a body for it (rarely)."""
    m = model(service)
    prefix = m.metadata["targetPrefix"]
    op = draw(st.sampled_from(sorted(m.operation_names)))
    target = draw(
        st.sampled_from([f"{prefix}.{op}"] * 8 + [op, f"{prefix}.", f"Nope.{op}", ""]) | _HEADER_TEXT
    )
    shape = m.operation_model(op).input_shape
    members = sorted(shape.members) if shape is not None else []
    content_type = draw(
        st.sampled_from(["application/x-amz-json-1.1"] * 4 + ["application/json", "text/plain", ""])
    )
    headers = {"x-amz-target": target, "content-type": content_type, **draw(_ODD_HEADERS)}
    method = draw(st.sampled_from(["POST"] * 9 + ["GET", "PUT"]))
    return RawRequest(m.signing_name, method, "/", "", draw(_json_body(members)), headers, draw(_AUTH))


def _label(draw: st.DrawFn) -> str:
    raw = draw(st.one_of(_TEXT, st.sampled_from(["..", ".", "%", "a/b", "a%2Fb", "x" * 3000, ""])))
    return quote(raw, safe="")


@st.composite
def rest_requests(draw: st.DrawFn, service: str) -> RawRequest:
    """REST (JSON or XML): an operation's method and URI template with hostile labels, query and body."""
    m = model(service)
    op = m.operation_model(draw(st.sampled_from(sorted(m.operation_names))))
    uri = op.http.get("requestUri", "/")
    path, _, fixed_query = uri.partition("?")
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + _label(draw) + path[end + 1 :]
    method = draw(
        st.sampled_from([op.http.get("method", "GET")] * 6 + ["GET", "POST", "DELETE", "PATCH", "HEAD"])
    )
    pairs = draw(st.lists(st.tuples(_TEXT, _TEXT), max_size=4))
    query = "&".join([fixed_query, *(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)]).strip(
        "&"
    )
    shape = op.input_shape
    members = sorted(shape.members) if shape is not None else []
    body = b"" if method in ("GET", "HEAD") and draw(st.booleans()) else draw(_json_body(members))
    headers = {"content-type": draw(st.sampled_from(["application/json", "application/xml", ""]))}
    return RawRequest(
        m.signing_name, method, path or "/", query, body, {**headers, **draw(_ODD_HEADERS)}, draw(_AUTH)
    )


@st.composite
def query_requests(draw: st.DrawFn, service: str) -> RawRequest:
    """Query: Action (real, mostly) and Version, the operation's member names with garbage values."""
    m = model(service)
    op = draw(st.sampled_from(sorted(m.operation_names)))
    shape = m.operation_model(op).input_shape
    members = (sorted(shape.members) if shape is not None else []) or ["X"]
    fields: list[tuple[str, str]] = [
        ("Action", draw(st.sampled_from([op] * 8 + ["", "Nope"]) | _TEXT)),
        ("Version", draw(st.sampled_from([m.api_version] * 8 + ["", "1999-01-01"]))),
    ]
    for name in draw(st.lists(st.sampled_from(members), max_size=5)):
        suffix = draw(st.sampled_from(["", ".member.1", ".member.0", ".1.Key", ".entry.1.value"]))
        fields.append((name + suffix, draw(_TEXT)))
    form = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in fields).encode()
    body = draw(
        st.one_of(st.just(form), st.just(form + b"&%ZZ=%"), st.binary(max_size=200), st.just(form * 50))
    )
    as_get = draw(st.booleans()) and draw(st.booleans())
    headers = {"content-type": "application/x-www-form-urlencoded", **draw(_ODD_HEADERS)}
    if as_get:
        return RawRequest(m.signing_name, "GET", "/", form.decode(), b"", headers, draw(_AUTH))
    return RawRequest(m.signing_name, "POST", "/", "", body, headers, draw(_AUTH))


@st.composite
def odd_requests(draw: st.DrawFn) -> RawRequest:
    """Any method on any path: no service is named but by the credential scope."""
    service = draw(st.sampled_from(["glue", "emr-serverless", "sts", "cloudtrail", "s3", "lambda", "x"]))
    segments = draw(
        st.lists(st.one_of(_TEXT.map(lambda s: quote(s, safe="")), st.just("%2e%2e")), max_size=6)
    )
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"]))
    query = draw(st.sampled_from(["", "a=b", "X-Amz-Algorithm=AWS4-HMAC-SHA256", "%zz", "&&==&"]))
    body = draw(st.one_of(st.binary(max_size=100), _raw_bodies()))
    return RawRequest(service, method, "/" + "/".join(segments), query, body, draw(_ODD_HEADERS), draw(_AUTH))


# -- sending and judging ---------------------------------------------------------------------------


def send(client: httpx.Client, base: str, req: RawRequest) -> httpx.Response:
    """Sign ``req`` as its auth mode says (the URL exactly as httpx will send it) and send it."""
    url = httpx.URL(f"{base}{req.path}" + (f"?{req.query}" if req.query else ""))
    headers = dict(req.headers)
    if req.auth == "garbage":
        headers["authorization"] = "AWS4-HMAC-SHA256 Credential=AKIAALICE0000000001X/x, Signature=zz"
    elif req.auth != "unsigned":
        keys: Keys = BOB if req.auth == "bob" else ALICE
        service = "cloudtrail" if req.auth == "other-service" else req.service
        aws = AWSRequest(method=req.method, url=str(url), data=req.body, headers=headers)
        creds = Credentials(keys.access_key_id, keys.secret_access_key)
        signer = S3SigV4Auth if service == "s3" else SigV4Auth
        signer(creds, service, "us-east-1").add_auth(aws)
        headers = dict(aws.headers.items())
    return client.request(req.method, url, content=req.body, headers=headers)


def aws_style_error(resp: httpx.Response) -> bool:
    """An AWS error: a typed JSON body, an x-amzn-errortype header, or an XML <Error> with a <Code>."""
    if resp.headers.get("x-amzn-errortype"):
        return True
    body = resp.content
    if b"<Code>" in body and b"<Error" in body:
        return True
    if resp.request.method == "HEAD":  # no body: the status and the request id are all there is
        return bool(resp.headers.get("x-amzn-requestid") or resp.headers.get("x-amz-request-id"))
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and bool(data.get("__type") or data.get("code") or data.get("Code"))
