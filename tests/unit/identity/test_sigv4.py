"""SigV4 verification against requests signed by botocore's own signers, and every refusal's spelling."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.config import Config
from botocore.credentials import Credentials

from tests.unit.identity.signing import ROOT, SESSIONS, USER, build_request, signed, spelled, verify
from trailkeeper.capture.identity.principal import Principal, SessionInfo
from trailkeeper.capture.identity.sigv4 import AuthFailure, Scope, peek_scope
from trailkeeper.capture.request import HttpRequest

JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSGlue.GetDatabases"}
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)


def _glue_post(
    body: bytes = b'{"MaxResults": 5}', creds: Credentials = USER, region: str = "us-east-1"
) -> HttpRequest:
    return signed(SigV4Auth(creds, "glue", region), build_request(body=body, headers=dict(JSON_HEADERS)))


def _refusal(req: HttpRequest, skew: timedelta = timedelta(0)) -> AuthFailure:
    with pytest.raises(AuthFailure) as info:
        verify(req, skew=skew)
    return info.value


def _with_header(req: HttpRequest, name: str, value: str | None) -> HttpRequest:
    headers = {k: v for k, v in req.headers.items() if k != name}
    return replace(req, headers=headers if value is None else {**headers, name: value})


def _session_principal() -> Principal:
    now = datetime.now(UTC)
    return Principal(
        "AssumedRole",
        "123456789012",
        "arn:aws:sts::123456789012:assumed-role/Admin/s1",
        "AROAEXAMPLE0000000000:s1",
        "",
        "s1",
        SessionInfo(None, now, now),
    )


def test_verify_json_post_signed_by_botocore_accepted() -> None:
    verified = verify(_glue_post())
    assert verified.principal.arn == "arn:aws:iam::123456789012:user/johndoe"
    assert verified.principal.access_key_id == USER.access_key
    assert verified.secret_access_key == USER.secret_key
    assert verified.scope == Scope(USER.access_key, verified.scope.date, "us-east-1", "glue")
    assert not verified.presigned


def test_verify_root_key_accepted_as_root() -> None:
    verified = verify(_glue_post(creds=ROOT))
    assert (verified.principal.type, verified.principal.arn) == ("Root", "arn:aws:iam::123456789012:root")


def test_verify_get_with_special_query_characters_accepted() -> None:
    url = (
        "http://127.0.0.1:4566/applications?maxResults=5&states=CREATED&states=STARTED"
        "&nextToken=a%2Fb%2Bc%3D%3D&name=caf%C3%A9%20bar&empty=&tilde=~x_y-z.w&star=%2A"
    )
    verified = verify(signed(SigV4Auth(USER, "emr-serverless", "eu-west-1"), build_request("GET", url)))
    assert (verified.scope.service, verified.scope.region) == ("emr-serverless", "eu-west-1")


def test_verify_path_with_spaces_unicode_and_dot_segments_accepted() -> None:
    url = "http://127.0.0.1:4566/applications/my%20app/./jobruns/../caf%C3%A9//x%2Fy"
    req = signed(SigV4Auth(USER, "emr-serverless", "us-east-1"), build_request("DELETE", url))
    assert req.path == "/applications/my%20app/./jobruns/../caf%C3%A9//x%2Fy"
    assert verify(req).scope.service == "emr-serverless"


def test_verify_s3_path_signed_without_double_encoding_accepted() -> None:
    url = "http://127.0.0.1:4566/bucket/dir%20a/caf%C3%A9.json"
    req = signed(S3SigV4Auth(USER, "s3", "us-east-1"), build_request("PUT", url, b"payload"))
    assert req.headers["x-amz-content-sha256"] != "UNSIGNED-PAYLOAD"
    assert verify(req).scope.service == "s3"


def test_verify_s3_unsigned_payload_accepted() -> None:
    request = build_request("PUT", "https://127.0.0.1:4566/bucket/key", b"payload")
    request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    req = signed(S3SigV4Auth(USER, "s3", "us-east-1"), request)
    assert req.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert verify(req).scope.service == "s3"


def test_verify_unsigned_payload_outside_s3_refused() -> None:
    request = build_request(url="https://127.0.0.1:4566/", body=b"{}", headers=dict(JSON_HEADERS))
    request.context["payload_signing_enabled"] = False
    req = signed(SigV4Auth(USER, "glue", "us-east-1"), request)
    assert req.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert spelled(_refusal(req), "json") == ("InvalidSignatureException", 400, MISMATCH)


def test_verify_date_header_instead_of_x_amz_date_accepted() -> None:
    request = build_request(body=b"{}", headers={**JSON_HEADERS, "Date": "placeholder"})
    req = signed(SigV4Auth(USER, "glue", "us-east-1"), request)
    assert "x-amz-date" not in req.headers
    assert verify(req).principal.user_name == "johndoe"


def test_verify_presigned_url_accepted() -> None:
    url = "http://127.0.0.1:4566/?Action=GetCallerIdentity&Version=2011-06-15"
    req = signed(SigV4QueryAuth(USER, "sts", "us-east-1", expires=300), build_request("GET", url))
    assert "authorization" not in req.headers
    verified = verify(req)
    assert verified.presigned
    assert verified.scope.service == "sts"


def test_verify_s3_presigned_url_accepted() -> None:
    url = "http://127.0.0.1:4566/bucket/my%20key.txt"
    req = signed(S3SigV4QueryAuth(USER, "s3", "us-east-1", expires=60), build_request("GET", url))
    assert verify(req).presigned


def test_verify_session_token_header_accepted() -> None:
    temp = SESSIONS.mint(_session_principal(), duration_seconds=900, now=datetime.now(UTC))
    creds = Credentials(temp.access_key_id, temp.secret_access_key, temp.session_token)
    verified = verify(_glue_post(creds=creds))
    assert verified.principal == temp.principal
    assert verified.principal.access_key_id == temp.access_key_id


def test_verify_presigned_url_with_session_token_accepted() -> None:
    temp = SESSIONS.mint(_session_principal(), duration_seconds=900, now=datetime.now(UTC))
    creds = Credentials(temp.access_key_id, temp.secret_access_key, temp.session_token)
    url = "http://127.0.0.1:4566/?Action=GetCallerIdentity&Version=2011-06-15"
    req = signed(SigV4QueryAuth(creds, "sts", "us-east-1", expires=60), build_request("GET", url))
    assert verify(req).principal.type == "AssumedRole"


def test_verify_no_authentication_refused_per_protocol() -> None:
    failure = _refusal(HttpRequest("POST", "/", "", {"host": "127.0.0.1:4566"}, b"{}", "10.0.0.1"))
    assert spelled(failure, "json") == (
        "MissingAuthenticationTokenException",
        403,
        "Missing Authentication Token",
    )
    assert spelled(failure, "query") == (
        "MissingAuthenticationToken",
        403,
        "Request is missing Authentication Token",
    )
    assert spelled(failure, "rest-xml")[:2] == ("AccessDenied", 403)
    assert failure.principal is None


def test_verify_signature_v2_header_treated_as_missing_token() -> None:
    req = _with_header(_glue_post(), "authorization", "AWS AKIAIOSFODNN7EXAMPLE:c2lnbmF0dXJl")
    assert _refusal(req).code == "MissingAuthenticationTokenException"


def test_verify_authorization_missing_parts_refused_as_incomplete() -> None:
    req = _with_header(_glue_post(), "authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE")
    req = _with_header(req, "x-amz-date", None)
    failure = _refusal(req)
    assert spelled(failure, "json") == (
        "IncompleteSignatureException",
        400,
        "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' "
        "parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization=AWS4-HMAC-SHA256",
    )
    assert failure.code_for("query") == "IncompleteSignature"
    assert failure.code_for("rest-xml") == "AuthorizationHeaderMalformed"


def test_verify_unsupported_algorithm_refused_as_incomplete() -> None:
    header = _glue_post().headers["authorization"].replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512")
    failure = _refusal(_with_header(_glue_post(), "authorization", header))
    assert failure.message == "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'."


def test_verify_credential_without_five_parts_refused_as_incomplete() -> None:
    req = _glue_post()
    header = re.sub(
        r"Credential=[^,]+",
        "Credential=AKIAIOSFODNN7EXAMPLE/20261123/us-east-1",
        req.headers["authorization"],
    )
    failure = _refusal(_with_header(req, "authorization", header))
    assert failure.code == "IncompleteSignatureException"
    assert failure.message == (
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
        "got 'AKIAIOSFODNN7EXAMPLE/20261123/us-east-1'"
    )


def test_verify_malformed_date_refused_as_incomplete() -> None:
    failure = _refusal(_with_header(_glue_post(), "x-amz-date", "2026-11-23T10:15:00Z"))
    assert failure.code == "IncompleteSignatureException"
    assert failure.message.startswith("Date must be in ISO-8601 'basic format'. Got '2026-11-23T10:15:00Z'.")


def test_verify_host_not_signed_refused() -> None:
    req = _glue_post()
    header = re.sub(
        r"SignedHeaders=[^,]+", "SignedHeaders=content-type;x-amz-date", req.headers["authorization"]
    )
    failure = _refusal(_with_header(req, "authorization", header))
    assert failure.code == "InvalidSignatureException"
    assert failure.message == "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."


def test_verify_unknown_access_key_refused_per_protocol() -> None:
    failure = _refusal(_glue_post(creds=Credentials("AKIAUNKNOWN000000000", "secret")))
    invalid = "The security token included in the request is invalid."
    assert spelled(failure, "json") == ("UnrecognizedClientException", 400, invalid)
    assert spelled(failure, "query") == ("InvalidClientTokenId", 403, invalid)
    assert spelled(failure, "rest-xml") == (
        "InvalidAccessKeyId",
        403,
        "The AWS Access Key Id you provided does not exist in our records.",
    )
    assert failure.principal is None
    assert failure.scope is not None
    assert failure.scope.access_key_id == "AKIAUNKNOWN000000000"


def test_verify_wrong_secret_refused_naming_the_key_owner() -> None:
    failure = _refusal(_glue_post(creds=Credentials(USER.access_key, "not-the-secret")))
    assert spelled(failure, "json") == ("InvalidSignatureException", 400, MISMATCH)
    assert spelled(failure, "query") == ("SignatureDoesNotMatch", 403, MISMATCH)
    assert spelled(failure, "rest-xml") == ("SignatureDoesNotMatch", 403, MISMATCH)
    assert failure.principal is not None
    assert failure.principal.user_name == "johndoe"
    assert failure.scope is not None
    assert failure.scope.service == "glue"


def test_verify_tampered_body_refused() -> None:
    req = replace(_glue_post(b'{"MaxResults": 5}'), body=b'{"MaxResults": 6}')
    assert _refusal(req).message == MISMATCH


def test_verify_s3_body_not_matching_declared_hash_refused() -> None:
    req = signed(
        S3SigV4Auth(USER, "s3", "us-east-1"), build_request("PUT", "http://127.0.0.1:4566/b/k", b"one")
    )
    failure = _refusal(replace(req, body=b"two"))
    assert failure.code_for("rest-xml") == "XAmzContentSHA256Mismatch"
    assert failure.code_for("json") == "InvalidSignatureException"


def test_verify_tampered_signed_header_refused() -> None:
    req = _with_header(_glue_post(), "x-amz-target", "AWSGlue.DeleteDatabase")
    assert _refusal(req).code == "InvalidSignatureException"


def test_verify_tampered_query_refused() -> None:
    url = "http://127.0.0.1:4566/applications?maxResults=5"
    req = signed(SigV4Auth(USER, "emr-serverless", "us-east-1"), build_request("GET", url))
    assert _refusal(replace(req, query="maxResults=50")).message == MISMATCH


def test_verify_tampered_path_refused() -> None:
    url = "http://127.0.0.1:4566/applications/app-1"
    req = signed(SigV4Auth(USER, "emr-serverless", "us-east-1"), build_request("DELETE", url))
    assert _refusal(replace(req, path="/applications/app-2")).message == MISMATCH


@pytest.mark.parametrize(
    ("signed_for", "claimed"),
    [("/us-west-2/glue/", "/us-east-1/glue/"), ("/us-east-1/athena/", "/us-east-1/glue/")],
)
def test_verify_scope_of_other_region_or_service_refused(signed_for: str, claimed: str) -> None:
    region, service = signed_for.strip("/").split("/")
    req = signed(SigV4Auth(USER, service, region), build_request(body=b"{}", headers=dict(JSON_HEADERS)))
    forged = _with_header(req, "authorization", req.headers["authorization"].replace(signed_for, claimed))
    failure = _refusal(forged)
    assert failure.message == MISMATCH
    assert failure.scope is not None
    assert (failure.scope.region, failure.scope.service) == (
        "us-east-1",
        "glue",
    )


def test_verify_scope_date_and_terminator_checked() -> None:
    req = _glue_post()
    date = req.headers["x-amz-date"]
    header = (
        req.headers["authorization"]
        .replace(f"/{date[:8]}/", "/20000101/")
        .replace("aws4_request", "aws5_request")
    )
    failure = _refusal(_with_header(req, "authorization", header))
    assert failure.code == "InvalidSignatureException"
    assert failure.message == (
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
        f"'20000101' != '{date[:8]}', from '{date}'."
    )


def test_verify_replay_after_skew_window_refused_with_aws_wording() -> None:
    req = _glue_post()
    assert (
        verify(req, skew=timedelta(minutes=14)).principal.user_name == "johndoe"
    )  # a replay inside the window
    signed_at = datetime.strptime(req.headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    now = signed_at + timedelta(minutes=20)
    failure = _refusal(req, skew=now - datetime.now(UTC))
    fmt = "%Y%m%dT%H%M%SZ"
    assert re.fullmatch(
        rf"Signature expired: {req.headers['x-amz-date']} is now earlier than \d{{8}}T\d{{6}}Z "
        r"\(\d{8}T\d{6}Z - 15 min\.\)",
        failure.message,
    )
    assert failure.message.endswith(f"({now.strftime(fmt)} - 15 min.)")
    assert spelled(failure, "rest-xml") == (
        "RequestTimeTooSkewed",
        403,
        "The difference between the request time and the current time is too large.",
    )
    assert failure.code_for("query") == "SignatureDoesNotMatch"
    assert failure.principal is not None
    assert failure.principal.user_name == "johndoe"


def test_verify_request_from_the_future_refused() -> None:
    failure = _refusal(_glue_post(), skew=timedelta(minutes=-20))
    assert failure.message.startswith("Signature not yet current: ")
    assert failure.message.endswith(" + 15 min.)")


def test_verify_expired_presigned_url_refused() -> None:
    url = "http://127.0.0.1:4566/?Action=GetCallerIdentity&Version=2011-06-15"
    req = signed(SigV4QueryAuth(USER, "sts", "us-east-1", expires=60), build_request("GET", url))
    assert verify(req, skew=timedelta(seconds=50)).presigned
    failure = _refusal(req, skew=timedelta(seconds=90))
    assert spelled(failure, "json") == ("AccessDeniedException", 403, "Request has expired")
    assert spelled(failure, "query") == ("AccessDenied", 403, "Request has expired")
    assert failure.code_for("rest-xml") == "AccessDenied"


def test_verify_presigned_expiry_over_a_week_refused() -> None:
    url = "http://127.0.0.1:4566/?Action=GetCallerIdentity&Version=2011-06-15"
    req = signed(SigV4QueryAuth(USER, "sts", "us-east-1", expires=604801), build_request("GET", url))
    assert _refusal(req).code == "IncompleteSignatureException"


def test_verify_presigned_query_missing_parts_refused() -> None:
    req = HttpRequest(
        "GET", "/", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261123T101500Z", {"host": "h"}, b"", "p"
    )
    assert _refusal(req).message == (
        "AWS query-string parameters must include 'X-Amz-Credential'. "
        "AWS query-string parameters must include 'X-Amz-Signature'. "
        "AWS query-string parameters must include 'X-Amz-SignedHeaders'. "
        "Re-examine the query-string parameters."
    )


def test_verify_header_and_query_signature_together_refused() -> None:
    req = _glue_post()
    failure = _refusal(replace(req, query="X-Amz-Algorithm=AWS4-HMAC-SHA256"))
    assert (
        failure.message
        == "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
    )


def test_verify_temporary_key_without_token_refused_as_unknown_key() -> None:
    temp = SESSIONS.mint(_session_principal(), duration_seconds=900, now=datetime.now(UTC))
    failure = _refusal(_glue_post(creds=Credentials(temp.access_key_id, temp.secret_access_key)))
    assert failure.code == "UnrecognizedClientException"
    assert failure.principal is None


def test_verify_forged_session_token_refused_as_invalid() -> None:
    temp = SESSIONS.mint(_session_principal(), duration_seconds=900, now=datetime.now(UTC))
    forged = temp.session_token[:-8] + ("A" * 8 if not temp.session_token.endswith("A" * 8) else "B" * 8)
    failure = _refusal(_glue_post(creds=Credentials(temp.access_key_id, temp.secret_access_key, forged)))
    assert spelled(failure, "query")[:2] == ("InvalidClientTokenId", 403)


def test_verify_expired_session_refused_naming_the_session() -> None:
    temp = SESSIONS.mint(
        _session_principal(), duration_seconds=900, now=datetime.now(UTC) - timedelta(hours=1)
    )
    failure = _refusal(
        _glue_post(creds=Credentials(temp.access_key_id, temp.secret_access_key, temp.session_token))
    )
    expired = "The security token included in the request is expired"
    assert spelled(failure, "json") == ("ExpiredTokenException", 400, expired)
    assert spelled(failure, "query") == ("ExpiredToken", 400, expired)
    assert spelled(failure, "rest-xml") == ("ExpiredToken", 400, expired)
    assert failure.principal == temp.principal


def test_peek_scope_reads_header_and_presigned_credentials() -> None:
    req = _glue_post()
    assert peek_scope(req) == Scope(USER.access_key, req.headers["x-amz-date"][:8], "us-east-1", "glue")
    url = "http://127.0.0.1:4566/?Action=GetCallerIdentity&Version=2011-06-15"
    presigned = signed(SigV4QueryAuth(USER, "sts", "eu-central-1", expires=60), build_request("GET", url))
    scope = peek_scope(presigned)
    assert scope is not None
    assert (scope.region, scope.service) == ("eu-central-1", "sts")
    assert peek_scope(HttpRequest("GET", "/", "a=b", {"host": "h"}, b"", "p")) is None


@pytest.mark.parametrize(
    "value",
    [
        "20261123T101500Z",
        "19991231T235959Z",
        "20240229T000000Z",
        "20250229T000000Z",  # no such day
        "20261301T000000Z",  # month 13: strptime reads "1" + "30"… and gives up
        "20261123T240000Z",
        "20261123T235960Z",
        "09991123T101500Z",  # strftime would not pad the year
        "Mon, 23 Nov 2026 10:15:00 GMT",
        "2026-11-23T10:15:00Z",
        "\uff120261123T101500Z",  # a full-width digit: not ASCII, never the fast path
    ],
)
def test_amz_date_fast_path_reads_exactly_as_strptime(value: str) -> None:
    from trailkeeper.capture.identity import sigv4

    def reference() -> str | None:
        try:
            return datetime.strptime(value, sigv4.AMZ_DATE_FORMAT).strftime(sigv4.AMZ_DATE_FORMAT)
        except ValueError:
            pass
        try:
            from email.utils import parsedate_to_datetime

            return parsedate_to_datetime(value).astimezone(UTC).strftime(sigv4.AMZ_DATE_FORMAT)
        except (TypeError, ValueError):
            return None

    expected = reference()
    if expected is None:
        with pytest.raises(AuthFailure):
            sigv4._amz_date(value)
        return
    text, signed_at = sigv4._amz_date(value)
    assert text == expected
    if signed_at is not None:
        assert signed_at == datetime.strptime(text, sigv4.AMZ_DATE_FORMAT).replace(tzinfo=UTC)
