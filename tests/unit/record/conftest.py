"""Fixtures for the record tests: real botocore models, the shipped rules, sample principals."""

from __future__ import annotations

from datetime import UTC, datetime

import botocore.session
import pytest
from botocore.model import ServiceModel

from trailkeeper.capture.identity.principal import Principal, SessionInfo, SessionIssuer
from trailkeeper.record.build import CallContext
from trailkeeper.record.rules import ServiceRules, load_rules

from .support import SERVICES


@pytest.fixture(scope="session")
def models() -> dict[str, ServiceModel]:
    session = botocore.session.get_session()
    return {name: session.get_service_model(name) for name in SERVICES}


@pytest.fixture(scope="session")
def rules(models: dict[str, ServiceModel]) -> dict[str, ServiceRules]:
    return {name: load_rules(name, model) for name, model in models.items()}


@pytest.fixture
def ctx() -> CallContext:
    return CallContext(
        event_time=datetime(2024, 3, 1, 9, 30, 15, 123456, tzinfo=UTC),
        region="us-east-1",
        source_ip="198.51.100.7",
        user_agent="aws-cli/2.15.0 Python/3.11.6",
        request_id="0f7a0e9e-4b2a-4d4e-9d1b-1b2c3d4e5f60",
        event_id="6a1c7f4e-1111-4222-8333-944455556666",
    )


@pytest.fixture
def iam_user() -> Principal:
    return Principal(
        type="IAMUser",
        account_id="111122223333",
        arn="arn:aws:iam::111122223333:user/alice",
        principal_id="AIDAEXAMPLEALICE0001",
        access_key_id="AKIAEXAMPLEALICE0001",
        user_name="alice",
    )


@pytest.fixture
def assumed_role() -> Principal:
    return Principal(
        type="AssumedRole",
        account_id="111122223333",
        arn="arn:aws:sts::111122223333:assumed-role/Admin/alice-session",
        principal_id="AROAEXAMPLEADMIN0001:alice-session",
        access_key_id="ASIAEXAMPLEALICE0001",
        user_name="alice-session",
        session=SessionInfo(
            issuer=SessionIssuer(
                type="Role",
                principal_id="AROAEXAMPLEADMIN0001",
                arn="arn:aws:iam::111122223333:role/Admin",
                account_id="111122223333",
                user_name="Admin",
            ),
            creation_date=datetime(2024, 3, 1, 9, 0, 0, tzinfo=UTC),
            expiration=datetime(2024, 3, 1, 10, 0, 0, tzinfo=UTC),
        ),
    )
