"""The service catalog: for each signing name, its botocore model, wire protocol and CloudTrail rules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import botocore.session
from botocore.model import ServiceModel

from trailkeeper.config import UPSTREAM_SERVICES
from trailkeeper.record.rules import ServiceRules, load_rules

__all__ = ["Catalog", "Protocol", "ServiceEntry", "load_catalog"]

Protocol = Literal["json", "rest-json", "query", "rest-xml"]

# Services whose calls we serve ourselves (identity, the CloudTrail API, the read-only S3 view of
# our buckets), as opposed to the data-platform services that go to a backend (embedded moto or an
# upstream).
LOCAL_SERVICES = ("sts", "cloudtrail", "s3")
BACKEND_SERVICES = UPSTREAM_SERVICES


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    name: str  # botocore service name, e.g. "emr-serverless"
    signing_name: str  # the credential-scope service, e.g. "emr-serverless"
    model: ServiceModel
    protocol: Protocol
    rules: ServiceRules
    local: bool  # True: served by trailkeeper itself (sts, cloudtrail)


class Catalog:
    """Lookup of services by the SigV4 credential-scope name and by JSON target prefix."""

    def __init__(self, entries: Iterable[ServiceEntry]) -> None:
        self._by_signing_name = {e.signing_name: e for e in entries}
        self._by_target_prefix = {
            prefix: e
            for e in self._by_signing_name.values()
            if (prefix := e.model.metadata.get("targetPrefix"))
        }

    def by_signing_name(self, name: str) -> ServiceEntry | None:
        return self._by_signing_name.get(name)

    def by_target(self, target: str) -> ServiceEntry | None:
        """The service an ``X-Amz-Target`` header belongs to (used before a signature is read)."""
        prefix, _, _ = target.rpartition(".")
        return self._by_target_prefix.get(prefix)

    def entries(self) -> list[ServiceEntry]:
        return list(self._by_signing_name.values())


def _protocol_of(model: ServiceModel) -> Protocol:
    protocols = model.metadata.get("protocols") or [model.metadata["protocol"]]
    for candidate in ("json", "rest-json", "query", "rest-xml"):
        if candidate in protocols:
            return candidate
    raise ValueError(f"{model.service_name}: unsupported protocol {protocols}")


def load_catalog(services: Iterable[str] = (*BACKEND_SERVICES, *LOCAL_SERVICES)) -> Catalog:
    """Load each service's botocore model and its rules file (checked against the model)."""
    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    entries = []
    for name in services:
        model = ServiceModel(loader.load_service_model(name, "service-2"), service_name=name)
        entries.append(
            ServiceEntry(
                name=name,
                signing_name=model.signing_name,
                model=model,
                protocol=_protocol_of(model),
                rules=load_rules(name, model),
                local=name in LOCAL_SERVICES,
            )
        )
    return Catalog(entries)
