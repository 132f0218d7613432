"""The exception tree. Errors a client sees are AwsError; the wire layer renders them per protocol.

TrailkeeperError
 +-- ConfigError        bad config file or option: refused at start
 +-- RulesError         a rules/<service>.toml file disagrees with the botocore model
 +-- JournalUnavailable the journal cannot make a record durable (fail-closed)
 +-- AwsError           an AWS-style error answered to the client (code, message, HTTP status)
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "AwsError",
    "ConfigError",
    "JournalUnavailable",
    "RulesError",
    "TrailkeeperError",
    "access_denied",
    "internal_failure",
    "service_unavailable",
    "validation_error",
]


class TrailkeeperError(Exception):
    """Root of every error trailkeeper raises on purpose."""


class ConfigError(TrailkeeperError):
    """The configuration is malformed; the message names the file, line and problem."""


class RulesError(TrailkeeperError):
    """A service rules file names an operation or member the botocore model does not have."""


class JournalUnavailable(TrailkeeperError):
    """The journal could not make a record durable."""


class AwsError(TrailkeeperError):
    """An error answered to the client in the service's own wire format.

    ``code`` is the error code for JSON protocols; ``codes`` overrides it per protocol
    (``"query"``, ``"rest-xml"``, ...) where AWS spells the same failure differently,
    e.g. UnrecognizedClientException (JSON) vs InvalidClientTokenId (query).
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 400,
        *,
        codes: Mapping[str, str] | None = None,
        sender_fault: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.codes: Mapping[str, str] = codes or {}
        self.sender_fault = sender_fault
        self.headers: Mapping[str, str] = headers or {}

    def code_for(self, protocol: str) -> str:
        """The error code as this protocol's clients expect it."""
        return self.codes.get(protocol, self.code)

    def message_for(self, protocol: str) -> str:
        """The message for this protocol (AWS words some failures differently per protocol)."""
        return self.message

    def status_for(self, protocol: str) -> int:
        """The HTTP status for this protocol (e.g. 400 on JSON, 403 on query for a bad key)."""
        return self.status


def validation_error(message: str) -> AwsError:
    return AwsError("ValidationException", message, 400, codes={"query": "ValidationError"})


def access_denied(message: str) -> AwsError:
    return AwsError(
        "AccessDeniedException", message, 400, codes={"query": "AccessDenied", "rest-xml": "AccessDenied"}
    )


def service_unavailable(message: str) -> AwsError:
    return AwsError(
        "ServiceUnavailableException",
        message,
        503,
        codes={"query": "ServiceUnavailable", "rest-xml": "ServiceUnavailable"},
        sender_fault=False,
    )


def internal_failure(message: str = "An internal error occurred; the call was not completed.") -> AwsError:
    return AwsError("InternalFailure", message, 500, codes={"rest-xml": "InternalError"}, sender_fault=False)
