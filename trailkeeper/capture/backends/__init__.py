"""Backends: where Glue and EMR Serverless calls execute (embedded moto, or an upstream endpoint)."""

from trailkeeper.capture.backends.base import Backend, BackendCall
from trailkeeper.capture.backends.embedded import EmbeddedBackend
from trailkeeper.capture.backends.upstream import UpstreamBackend

__all__ = ["Backend", "BackendCall", "EmbeddedBackend", "UpstreamBackend"]
