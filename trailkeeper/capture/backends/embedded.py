"""Embedded backend: moto's in-memory service backends, isolated per account and region, called in-process.

moto routes by URL and reads the account from ``x-moto-account-id`` and the region from the
host name, so each call is rebuilt as the request a real AWS endpoint would have received.
Calls run on the event loop thread: moto's backends are not thread-safe and a call takes
well under a millisecond.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from trailkeeper.capture.backends.base import BackendCall
from trailkeeper.capture.wire.types import WireResponse
from trailkeeper.errors import AwsError

__all__ = ["EmbeddedBackend"]

_Dispatch = Callable[[Any, str, Any], Any]
# Headers moto must not see: our caller's signature is already verified, and moto would only
# need the credential scope (it reads the account from x-moto-account-id instead).
_DROPPED = frozenset({"authorization", "x-amz-security-token", "host", "content-length"})


class EmbeddedBackend:
    def __init__(self) -> None:
        self._routes: dict[str, list[tuple[re.Pattern[str], _Dispatch]]] = {}

    def describe(self) -> str:
        return "embedded(moto)"

    async def close(self) -> None:
        return None

    def _routes_for(self, endpoint_prefix: str) -> list[tuple[re.Pattern[str], _Dispatch]]:
        routes = self._routes.get(endpoint_prefix)
        if routes is None:
            routes = self._routes[endpoint_prefix] = _load_routes(endpoint_prefix)
        return routes

    async def invoke(self, call: BackendCall) -> WireResponse:
        from moto.core.request import Request
        from werkzeug.exceptions import HTTPException

        req = call.request
        prefix = call.entry.model.endpoint_prefix
        base = f"https://{prefix}.{call.caller.scope.region}.amazonaws.com"
        url = f"{base}{req.path}" + (f"?{req.query}" if req.query else "")
        headers = {k: v for k, v in req.headers.items() if k not in _DROPPED}
        headers["x-moto-account-id"] = call.caller.principal.account_id
        headers["host"] = f"{prefix}.{call.caller.scope.region}.amazonaws.com"
        for pattern, dispatch in self._routes_for(prefix):
            if pattern.match(f"{base}{req.path}"):
                moto_request = Request.from_primitives(req.method, url, headers, req.body)
                try:
                    status, out_headers, body = dispatch(
                        moto_request, moto_request.raw_url, moto_request.headers
                    )
                except HTTPException as exc:
                    status, out_headers, body = exc.code, dict(exc.get_headers()), exc.get_body()
                except NotImplementedError:
                    raise _not_implemented(call) from None
                if int(status) == 404 and not body:
                    # moto's answer when its response class has no method for the action
                    raise _not_implemented(call)
                return _wire(status, out_headers, body)
        raise _not_implemented(call)


def _not_implemented(call: BackendCall) -> AwsError:
    service = call.entry.model.service_id
    return AwsError(
        "UnsupportedOperationException",
        f"The embedded backend does not implement {service} {call.operation}; "
        f"serve it from an AWS-compatible endpoint with --upstream {call.entry.name}=URL.",
        400,
        codes={"query": "UnsupportedOperation"},
    )


def _cache_moto_action_lookup() -> None:
    """moto lists a response class's methods with inspect.getmembers on every call (~0.3 ms);
    the answer depends only on the class, so it is computed once per class."""
    import moto.core.responses as responses

    namespace = vars(responses)
    original = namespace["method_names_from_class"]
    if not hasattr(original, "cache_info"):
        namespace["method_names_from_class"] = functools.lru_cache(maxsize=256)(original)


def _load_routes(endpoint_prefix: str) -> list[tuple[re.Pattern[str], _Dispatch]]:
    import moto.backend_index as backend_index
    import moto.backends as backends
    from moto.core.models import DEFAULT_ACCOUNT_ID

    _cache_moto_action_lookup()

    probe = f"https://{endpoint_prefix}.us-east-1.amazonaws.com/"
    for moto_name, pattern in backend_index.backend_url_patterns:
        if pattern.match(probe):
            backend = backends.get_backend(moto_name)[DEFAULT_ACCOUNT_ID]["us-east-1"]  # type: ignore[call-overload]
            return [(re.compile(url), dispatch) for url, dispatch in backend.urls.items()]
    return []


def _wire(status: int, headers: Any, body: Any) -> WireResponse:
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
    return WireResponse(int(status), {str(k).lower(): str(v) for k, v in dict(headers).items()}, raw)
