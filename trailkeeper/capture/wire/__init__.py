"""The wire layer: botocore-model-driven codecs for the json, rest-json, query and rest-xml protocols.

An HttpRequest goes in and comes out as an OperationModel plus typed params; our outputs and
AwsErrors go out as WireResponse bytes; a backend's WireResponse comes back as an Outcome.
"""

from trailkeeper.capture.wire.outcome import error_outcome, parse_backend_response
from trailkeeper.capture.wire.parse import parse_request, validate_required
from trailkeeper.capture.wire.render import AWS_FAULT_NAMESPACE, render_error, render_output
from trailkeeper.capture.wire.routing import resolve_operation
from trailkeeper.capture.wire.types import CallError, Outcome, WireResponse

__all__ = [
    "AWS_FAULT_NAMESPACE",
    "CallError",
    "Outcome",
    "WireResponse",
    "error_outcome",
    "parse_backend_response",
    "parse_request",
    "render_error",
    "render_output",
    "resolve_operation",
    "validate_required",
]
