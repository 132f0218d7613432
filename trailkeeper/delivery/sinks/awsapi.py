"""A small async AWS API client: (operation, params) in, the parsed output dict or an ``AwsCallError`` out.

botocore does what it is best at (serialise per protocol from the service model, SigV4, parse
the answer and its errors) and httpx does the I/O, so a call is a cancellable coroutine with a
hard timeout instead of a blocking thread. Nothing here knows a service: the model says it all.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import botocore.session
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, prepare_request_dict
from botocore.credentials import Credentials
from botocore.exceptions import ParamValidationError
from botocore.model import ServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from trailkeeper.config import EndpointConfig

__all__ = ["AwsApi", "AwsCallError", "display_url", "load_model"]

# Error codes worth another try, after botocore's standard retry mode (retries/standard.py):
# throttling and transient server-side codes. Every other AWS error code is a final answer.
_RETRYABLE_CODES = frozenset(
    {
        "Throttled",  # SNS's spelling (ThrottledException)
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServiceError",
        "InternalServiceErrorException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "KMSThrottlingException",
    }
)

# With no credentials configured, calls are still signed (endpoints such as LocalStack reject
# unsigned calls) with the trail's account id as the access key: LocalStack files resources under
# a 12-digit access key's account, moto ignores it. The secret is a fixed, public placeholder.
_PLACEHOLDER_SECRET = "trailkeeper-unsigned"


class AwsCallError(Exception):
    """A call failed: ``code`` is the AWS error code (or a transport failure's name)."""

    def __init__(self, code: str, message: str, *, status: int | None, retryable: bool) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code, self.message, self.status, self.retryable = code, message, status, retryable


def load_model(service: str) -> ServiceModel:
    """The botocore model of ``service`` (e.g. "sns", "logs", "events")."""
    loader = botocore.session.get_session().get_component("data_loader")
    return ServiceModel(loader.load_service_model(service, "service-2"), service_name=service)


class AwsApi:
    """Calls one service at one endpoint. Safe to share between concurrent tasks."""

    def __init__(self, endpoint: EndpointConfig, client: httpx.AsyncClient, model: ServiceModel) -> None:
        self.endpoint, self._client, self._model = endpoint, client, model
        self._protocol = model.metadata["protocol"]
        self._serializer = create_serializer(self._protocol, include_validation=True)
        self._url = endpoint.url.rstrip("/")

    def describe(self) -> str:
        return f"{self._model.service_name}@{display_url(self._url)}"

    def region_for(self, default: str) -> str:
        """The signing region: the endpoint's own if configured, else the resource's."""
        return self.endpoint.region or default

    async def call(
        self, operation: str, params: dict[str, object], *, region: str, account_id: str
    ) -> dict[str, object]:
        """Run ``operation``; raises AwsCallError (retryable for transport failures, 5xx, throttling)."""
        op = self._model.operation_model(operation)
        try:
            request = self._serializer.serialize_to_request(params, op)
        except ParamValidationError as err:
            raise AwsCallError("ParamValidation", str(err), status=None, retryable=False) from err
        prepare_request_dict(request, endpoint_url=self._url, user_agent="trailkeeper")
        signed = AWSRequest(
            method=request["method"], url=request["url"], data=request["body"], headers=request["headers"]
        )
        SigV4Auth(self._credentials(account_id), self._model.signing_name, region).add_auth(signed)
        prepared = signed.prepare()
        try:
            response = await self._client.request(
                prepared.method,
                prepared.url,
                headers=dict(prepared.headers.items()),
                content=_body(prepared.body),
            )
        except httpx.HTTPError as err:  # refused, reset, timed out: the endpoint may come back
            raise AwsCallError(type(err).__name__, _describe(err), status=None, retryable=True) from err
        return self._parse(op.name, response)

    def _credentials(self, account_id: str) -> Credentials:
        if self.endpoint.access_key_id and self.endpoint.secret_access_key:
            return Credentials(self.endpoint.access_key_id, self.endpoint.secret_access_key)
        return Credentials(account_id, _PLACEHOLDER_SECRET)

    def _parse(self, operation: str, response: httpx.Response) -> dict[str, object]:
        op = self._model.operation_model(operation)
        raw = {"status_code": response.status_code, "headers": response.headers, "body": response.content}
        # botocore's parsers take None for operations without output (CreateLogStream); its stubs don't.
        parsed: dict[str, object] = create_parser(self._protocol).parse(raw, op.output_shape)  # type: ignore[arg-type]
        error = parsed.get("Error")
        if response.status_code < 300 and not (isinstance(error, dict) and error.get("Code")):
            return parsed
        code, message = "", ""
        if isinstance(error, dict):
            code, message = str(error.get("Code") or ""), str(error.get("Message") or "")
        code = code or f"HTTP{response.status_code}"
        retryable = code in _RETRYABLE_CODES or response.status_code >= 500 or response.status_code == 429
        raise AwsCallError(code, message, status=response.status_code, retryable=retryable)


def _body(body: object) -> bytes:
    """botocore's prepared body as bytes (serialisers produce bytes or str, never a stream here)."""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    return str(body or "").encode()


def _describe(err: httpx.HTTPError) -> str:
    """A transport failure in words, without request headers (they hold the signature)."""
    text = str(err) or type(err).__name__
    try:
        return f"{text} ({display_url(str(err.request.url))})"
    except RuntimeError:  # no request attached
        return text


def display_url(url: str) -> str:
    """``url`` fit for a log line or a status field: no user:password@, no query (tokens live there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
