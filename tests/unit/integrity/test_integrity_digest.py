"""integrity/digest.py: AWS's fields and order, key layout, string to sign, signatures the AWS CLI accepts."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from awscli.customizations.cloudtrail.validation import DigestSignatureError, Sha256RSADigestValidator

from trailkeeper.integrity.digest import (
    ChainLink,
    DigestContent,
    LogFileEntry,
    SignedDigest,
    digest_document,
    digest_key,
    sign_digest,
    string_to_sign,
    verify_signature,
)
from trailkeeper.integrity.keys import KeyStore, SigningKey

from .conftest import T0

FIXTURE = Path(
    "/work/shared/data/cloudtrail-samples/elastic-integrations_digest/test-cloudtrail-digest-json.log"
)
ACCOUNT = "111122223333"
BUCKET = "audit-logs"


def _content(
    key: SigningKey, *, previous: ChainLink | None, files: tuple[LogFileEntry, ...] = ()
) -> DigestContent:
    end = T0 + 3_600_000
    where = digest_key(
        prefix="p", org_id=None, account_id=ACCOUNT, region="us-east-1",
        trail_name="main", home_region="us-east-1", end_ms=end,
    )  # fmt: skip
    return DigestContent(ACCOUNT, T0, end, BUCKET, where, key.public.fingerprint, previous, files)


@pytest.fixture
def signing(tmp_path: Path, keys_in: Callable[[Path], KeyStore]) -> SigningKey:
    return keys_in(tmp_path).current("us-east-1", T0)


def test_string_to_sign_matches_aws_cli_test_vector() -> None:
    # tests/unit/customizations/cloudtrail/test_validation.py (aws-cli @ 07c4fe36), datasets.md §1.4
    body_hash = hashlib.sha256(b"abc").hexdigest()
    expected = b"a\nb/c\nba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\nnull"
    assert string_to_sign("a", "b", "c", body_hash, None) == expected
    assert string_to_sign("a", "b", "c", body_hash, "abcd").endswith(b"\nabcd")


def test_digest_key_layout_with_prefix_and_organization() -> None:
    common: dict[str, Any] = dict(
        account_id="123456789123", region="us-west-2", trail_name="leh-ct-test", home_region="us-west-2",
        end_ms=1_599_853_009_000,  # 2020-09-11T19:36:49Z, the Elastic fixture's digestEndTime
    )  # fmt: skip
    assert digest_key(prefix=None, org_id=None, **common) == (
        "AWSLogs/123456789123/CloudTrail-Digest/us-west-2/2020/09/11/"
        "123456789123_CloudTrail-Digest_us-west-2_leh-ct-test_us-west-2_20200911T193649Z.json.gz"
    )  # exactly the fixture's digestS3Object
    assert json.loads(FIXTURE.read_text())["digestS3Object"] == digest_key(prefix=None, org_id=None, **common)
    with_org = digest_key(prefix="a/b", org_id="o-exampleorgid", **common)
    assert with_org.startswith(
        "a/b/AWSLogs/o-exampleorgid/123456789123/CloudTrail-Digest/us-west-2/2020/09/11/"
    )
    assert with_org[-24:-8] == "20200911T193649Z"  # where the CLI reads the timestamp


def test_digest_document_fields_in_aws_order(signing: SigningKey) -> None:
    fixture = json.loads(FIXTURE.read_text())
    link = ChainLink(BUCKET, "p/AWSLogs/x.json.gz", "ab" * 32, "cd" * 256)
    files = (
        LogFileEntry(BUCKET, "k2", "11" * 32, T0 + 5000, T0 + 9000),
        LogFileEntry(BUCKET, "k1", "22" * 32, T0, T0),
    )
    doc = digest_document(_content(signing, previous=link, files=files))
    assert list(doc) == list(fixture)
    assert list(doc["logFiles"][0]) == list(fixture["logFiles"][0])
    assert doc["digestStartTime"] == "2026-01-02T00:00:00Z"
    assert doc["digestEndTime"] == "2026-01-02T01:00:00Z"
    assert (doc["newestEventTime"], doc["oldestEventTime"]) == (
        "2026-01-02T00:00:09Z",
        "2026-01-02T00:00:00Z",
    )
    assert (doc["previousDigestHashAlgorithm"], doc["digestSignatureAlgorithm"]) == (
        "SHA-256",
        "SHA256withRSA",
    )


def test_starting_digest_has_every_previous_field_null_and_empty_digest_null_times(
    signing: SigningKey,
) -> None:
    doc = digest_document(_content(signing, previous=None))
    previous = [k for k in doc if k.startswith("previousDigest")]
    assert len(previous) == 5
    assert all(doc[k] is None for k in previous)
    assert doc["logFiles"] == []
    assert doc["newestEventTime"] is None
    assert doc["oldestEventTime"] is None


def _cli_accepts(signed: SignedDigest, key: SigningKey) -> None:
    """The AWS CLI's own validator, given the digest as it reads it from S3."""
    inflated = zlib.decompress(signed.gzip_body, zlib.MAX_WBITS | 16)  # one member, as the CLI inflates it
    data = json.loads(inflated)
    data["_signature"] = signed.metadata["signature"]
    data["_signature_algorithm"] = signed.metadata["signature-algorithm"]
    value = base64.b64encode(key.public.der)
    Sha256RSADigestValidator().validate(signed.bucket, signed.key, value, data, inflated)


def test_signed_digest_passes_aws_cli_validator_starting_and_chained(signing: SigningKey) -> None:
    first = sign_digest(_content(signing, previous=None), signing)
    _cli_accepts(first, signing)
    assert first.metadata == {"signature": first.signature, "signature-algorithm": "SHA256withRSA"}
    assert len(first.signature) == 512
    assert first.signature == first.signature.lower()
    second = sign_digest(_content(signing, previous=first.link()), signing)
    _cli_accepts(second, signing)
    assert json.loads(second.body)["previousDigestSignature"] == first.signature
    assert gzip.decompress(second.gzip_body) == second.body
    assert second.sha256 == hashlib.sha256(second.body).hexdigest()


def test_signed_digest_altered_body_fails_aws_cli_and_our_check(signing: SigningKey) -> None:
    signed = sign_digest(_content(signing, previous=None), signing)
    altered = signed.body.replace(b'"logFiles":[]', b'"logFiles":[ ]')
    forged = SignedDigest(signed.bucket, signed.key, altered, gzip.compress(altered), "", signed.signature)
    with pytest.raises(DigestSignatureError):
        _cli_accepts(forged, signing)
    data = json.loads(signed.body)
    to_sign = string_to_sign(
        data["digestEndTime"], signed.bucket, signed.key, hashlib.sha256(altered).hexdigest(), None
    )
    assert not verify_signature(signing.public.der, to_sign, signed.signature)
    good = string_to_sign(data["digestEndTime"], signed.bucket, signed.key, signed.sha256, None)
    assert verify_signature(signing.public.der, good, signed.signature)
    assert not verify_signature(signing.public.der, good, "zz")


def test_sign_digest_with_other_key_than_named_refused(signing: SigningKey, tmp_path: Path) -> None:
    content = _content(signing, previous=None)
    other = KeyStore(tmp_path / "keys").current("eu-west-1", T0)
    with pytest.raises(ValueError, match="fingerprint"):
        sign_digest(content, other)
