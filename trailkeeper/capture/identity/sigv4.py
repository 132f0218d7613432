"""SigV4 verification: a received HttpRequest in, the verified caller or an ``AuthFailure`` out.

Signs as botocore's signers do (botocore/auth.py ``SigV4Auth``, ``S3SigV4Auth`` and their query
variants) and checks in AWS's order and wording: parts, date, host, credential, scope, clock, key.
"""

from __future__ import annotations

import contextlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from hashlib import sha256
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote_to_bytes

from botocore.utils import normalize_url_path

from trailkeeper.capture.identity.principal import Principal
from trailkeeper.capture.identity.store import IdentityStore, KeyEntry
from trailkeeper.capture.request import HttpRequest
from trailkeeper.errors import AwsError

if TYPE_CHECKING:  # sessions imports this module for its errors
    from trailkeeper.capture.identity.sessions import SessionService

__all__ = [
    "AuthFailure",
    "Scope",
    "Spelling",
    "Verified",
    "expired_token",
    "invalid_client_token",
    "peek_scope",
    "verify_request",
]

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
TEMPORARY_KEY_PREFIX = "ASIA"
MAX_PRESIGN_EXPIRES = 604800  # one week, as for S3 presigned URLs
# SigV4's S3 variant (signing name "s3") signs the raw path, neither normalised nor encoded
# again, and may declare UNSIGNED-PAYLOAD; every other signing name does neither.
_S3_VARIANT = frozenset({"s3"})

_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)
_INVALID_TOKEN = "The security token included in the request is invalid."
_FOUND_BOTH = "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
_HOST_UNSIGNED = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
_NO_DATE = "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
_BAD_DATE = "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601"
_BAD_CREDENTIAL = (
    "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{}'"
)
_NO_EQUALS = "'{}' not a valid key=value pair (missing equal-sign) in Authorization header."


@dataclass(frozen=True, slots=True)
class Scope:
    """The credential scope ``AKID/20261123/us-east-1/glue/aws4_request`` of a signed request."""

    access_key_id: str
    date: str
    region: str
    service: str


@dataclass(frozen=True, slots=True)
class Verified:
    principal: Principal
    secret_access_key: str  # kept in memory only, to re-sign calls forwarded upstream; never stored
    scope: Scope
    presigned: bool


Spelling = tuple[str, int, str]  # (error code, HTTP status, message) as one protocol has it


class AuthFailure(AwsError):
    """A refused signature. Carries who and where when known, so the refused call can be recorded.

    AWS spells some failures differently per protocol, status and message included:
    ``message_for`` and ``status_for`` answer per protocol, like ``code_for``. The JSON spelling
    is the default (``rest-json`` shares it).
    """

    def __init__(
        self,
        json: Spelling,
        query: Spelling,
        rest_xml: Spelling,
        *,
        principal: Principal | None = None,
        scope: Scope | None = None,
    ) -> None:
        super().__init__(json[0], json[2], json[1], codes={"query": query[0], "rest-xml": rest_xml[0]})
        self.spellings: Mapping[str, Spelling] = {"json": json, "query": query, "rest-xml": rest_xml}
        self.principal = principal
        self.scope = scope

    def message_for(self, protocol: str) -> str:
        return self.spellings.get(protocol, self.spellings["json"])[2]

    def status_for(self, protocol: str) -> int:
        return self.spellings.get(protocol, self.spellings["json"])[1]

    def located(self, scope: Scope) -> AuthFailure:
        """The same failure, tagged with the credential scope it happened under."""
        json, query, rest_xml = (self.spellings[p] for p in ("json", "query", "rest-xml"))
        return AuthFailure(json, query, rest_xml, principal=self.principal, scope=scope)


def _missing_token() -> AuthFailure:
    return AuthFailure(
        ("MissingAuthenticationTokenException", 403, "Missing Authentication Token"),
        ("MissingAuthenticationToken", 403, "Request is missing Authentication Token"),
        ("AccessDenied", 403, "Access Denied"),
    )


def _incomplete(message: str) -> AuthFailure:
    json, query = ("IncompleteSignatureException", 400, message), ("IncompleteSignature", 400, message)
    return AuthFailure(json, query, ("AuthorizationHeaderMalformed", 400, message))


def invalid_client_token(principal: Principal | None = None) -> AuthFailure:
    """Unknown access key, or a session token that is missing, forged or not this key's."""
    return AuthFailure(
        ("UnrecognizedClientException", 400, _INVALID_TOKEN),
        ("InvalidClientTokenId", 403, _INVALID_TOKEN),
        ("InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records."),
        principal=principal,
    )


def expired_token(principal: Principal) -> AuthFailure:
    message = "The security token included in the request is expired"
    json, query = ("ExpiredTokenException", 400, message), ("ExpiredToken", 400, message)
    return AuthFailure(json, query, ("ExpiredToken", 400, message), principal=principal)


def _bad_signature(
    message: str, known: Principal | None = None, scope: Scope | None = None, rest_xml: Spelling | None = None
) -> AuthFailure:
    """InvalidSignatureException / SignatureDoesNotMatch, unless rest-xml spells it otherwise."""
    json, query = ("InvalidSignatureException", 400, message), ("SignatureDoesNotMatch", 403, message)
    rest_xml = rest_xml or ("SignatureDoesNotMatch", 403, message)
    return AuthFailure(json, query, rest_xml, principal=known, scope=scope)


def _presign_expired(known: Principal | None, scope: Scope) -> AuthFailure:
    json, query = (
        ("AccessDeniedException", 403, "Request has expired"),
        ("AccessDenied", 403, "Request has expired"),
    )
    return AuthFailure(
        json, query, ("AccessDenied", 403, "Request has expired"), principal=known, scope=scope
    )


@dataclass(frozen=True, slots=True)
class _Auth:
    """The signing parameters a request carries, syntactically checked."""

    scope: Scope
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str  # YYYYMMDDTHHMMSSZ, as in the string to sign
    token: str | None
    presigned: bool
    expires: int | None  # presigned URLs: seconds of validity after amz_date
    signed_at: datetime | None = None  # amz_date as a UTC datetime, when read on the fast path


def peek_scope(req: HttpRequest) -> Scope | None:
    """The credential scope, cheaply; None if the request carries no (readable) SigV4 credential."""
    header = req.headers.get("authorization")
    if header is not None:
        start = header.find("Credential=")
        credential = header[start + 11 :].split(",", 1)[0].strip() if start >= 0 else ""
    elif "X-Amz-Credential" in req.query:
        credential = dict(req.query_pairs()).get("X-Amz-Credential", "")
    else:
        return None
    parts = credential.rstrip("/").split("/")
    return Scope(*parts[:4]) if len(parts) == 5 else None


def verify_request(
    req: HttpRequest,
    *,
    store: IdentityStore,
    sessions: SessionService,
    now: datetime,
    max_skew_seconds: int = 900,
) -> Verified:
    """Check the request's SigV4 signature; raises AuthFailure with AWS's code and message."""
    auth = _read_auth(req)
    resolved = _resolve_key(auth, store, sessions, now)
    known = resolved.principal
    _check_scope(auth, known)
    _check_time(auth, now, max_skew_seconds, known)
    if isinstance(resolved, AuthFailure):
        raise resolved.located(auth.scope)
    _check_signature(req, auth, resolved)
    return Verified(resolved.principal, resolved.secret_access_key, auth.scope, auth.presigned)


def _read_auth(req: HttpRequest) -> _Auth:
    header = req.headers.get("authorization")
    query = dict(req.query_pairs()) if "X-Amz-" in req.query else {}
    if header is not None and "X-Amz-Algorithm" in query:
        raise _bad_signature(_FOUND_BOTH)
    if header is not None and header.lstrip().startswith("AWS4-"):
        return _from_header(req, header.strip())
    if header is None and "X-Amz-Algorithm" in query:
        return _from_query(query)
    raise _missing_token()


def _from_header(req: HttpRequest, header: str) -> _Auth:
    algorithm, _, rest = header.partition(" ")
    if algorithm != ALGORITHM:
        raise _incomplete(f"Unsupported AWS 'algorithm': '{algorithm}'.")
    fields: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        name, equals, value = part.partition("=")
        if not equals:
            # AWS quotes the whole header here; we name only the part, so no signature is copied out.
            raise _incomplete(_NO_EQUALS.format(part))
        fields[name.strip()] = value.strip()
    names = ("Credential", "Signature", "SignedHeaders")
    problems = [f"Authorization header requires '{n}' parameter." for n in names if not fields.get(n)]
    date = req.headers.get("x-amz-date") or req.headers.get("date") or ""
    problems += [] if date else [_NO_DATE]
    if problems:  # AWS ends with "Authorization=" and the header; the algorithm alone leaks nothing
        raise _incomplete(" ".join([*problems, f"Authorization={ALGORITHM}"]))
    token = req.headers.get("x-amz-security-token")
    return _build(fields["Credential"], fields["SignedHeaders"], fields["Signature"], date, token)


def _from_query(query: dict[str, str]) -> _Auth:
    required = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date")
    if missing := [name for name in required if not query.get(name)]:
        problems = " ".join(f"AWS query-string parameters must include '{name}'." for name in missing)
        raise _incomplete(f"{problems} Re-examine the query-string parameters.")
    if query["X-Amz-Algorithm"] != ALGORITHM:
        raise _incomplete(f"Unsupported AWS 'algorithm': '{query['X-Amz-Algorithm']}'.")
    expires = query.get("X-Amz-Expires")
    if expires is not None and not (expires.isdigit() and 1 <= int(expires) <= MAX_PRESIGN_EXPIRES):
        raise _incomplete(f"X-Amz-Expires must be 1-{MAX_PRESIGN_EXPIRES} seconds, got '{expires}'.")
    credential, signed, signature = (
        query["X-Amz-Credential"],
        query["X-Amz-SignedHeaders"],
        query["X-Amz-Signature"],
    )
    auth = _build(credential, signed, signature, query["X-Amz-Date"], query.get("X-Amz-Security-Token"))
    return replace(auth, presigned=True, expires=None if expires is None else int(expires))


def _build(credential: str, signed: str, signature: str, date: str, token: str | None) -> _Auth:
    amz_date, signed_at = _amz_date(date)
    signed_headers = tuple(name.strip().lower() for name in signed.split(";"))
    if "host" not in signed_headers and ":authority" not in signed_headers:
        raise _bad_signature(_HOST_UNSIGNED)
    parts = credential.rstrip("/").split("/")  # AWS ignores trailing slashes here
    if len(parts) != 5:
        raise _incomplete(_BAD_CREDENTIAL.format(credential))
    return _Auth(
        Scope(*parts[:4]), parts[4], signed_headers, signature, amz_date, token, False, None, signed_at
    )


_BASIC_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")


def _amz_date(value: str) -> tuple[str, datetime | None]:
    """The request time as YYYYMMDDTHHMMSSZ, from X-Amz-Date or an RFC 7231 Date header; with it
    the time as a UTC datetime when the value already was in that form (what every SDK sends)."""
    if _BASIC_DATE.fullmatch(value) and value[0] != "0":
        # strptime + strftime would give such a value back unchanged. A field out of range (month
        # 13, second 60) falls through to them, and so does a year before 1000 (strftime would not
        # pad it): those are read, or refused, exactly as before.
        with contextlib.suppress(ValueError):
            return value, datetime(
                int(value[0:4]), int(value[4:6]), int(value[6:8]),
                int(value[9:11]), int(value[11:13]), int(value[13:15]), tzinfo=UTC,
            )  # fmt: skip
    with contextlib.suppress(ValueError):
        return datetime.strptime(value, AMZ_DATE_FORMAT).strftime(AMZ_DATE_FORMAT), None
    try:
        return parsedate_to_datetime(value).astimezone(UTC).strftime(AMZ_DATE_FORMAT), None
    except (TypeError, ValueError):
        raise _incomplete(_BAD_DATE.format(value)) from None


def _resolve_key(
    auth: _Auth, store: IdentityStore, sessions: SessionService, now: datetime
) -> KeyEntry | AuthFailure:
    """The key the request names, or the failure to raise once the earlier checks have passed."""
    key_id = auth.scope.access_key_id
    try:
        if auth.token is not None or key_id.startswith(TEMPORARY_KEY_PREFIX):
            return sessions.resolve(key_id, auth.token or "", now)
    except AuthFailure as failure:
        return failure
    return store.key(key_id) or invalid_client_token()


def _check_scope(auth: _Auth, known: Principal | None) -> None:
    problems = []
    if auth.terminator != TERMINATOR:
        problems.append(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{auth.terminator}'."
        )
    if auth.scope.date != auth.amz_date[:8]:
        problems.append(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{auth.scope.date}' != '{auth.amz_date[:8]}', from '{auth.amz_date}'."
        )
    if problems:
        raise _bad_signature(" ".join(problems), known, auth.scope)


def _check_time(auth: _Auth, now: datetime, skew: int, known: Principal | None) -> None:
    signed_at = auth.signed_at or datetime.strptime(auth.amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    if auth.expires is not None and now > signed_at + timedelta(seconds=auth.expires):
        raise _presign_expired(known, auth.scope)
    window = timedelta(seconds=skew)
    if signed_at > now + window:
        limit = (now + window).strftime(AMZ_DATE_FORMAT)
        detail = f"Signature not yet current: {auth.amz_date} is still later than {limit}"
        detail += f" ({now.strftime(AMZ_DATE_FORMAT)} + {skew / 60:g} min.)"
    elif auth.expires is None and signed_at < now - window:
        limit = (now - window).strftime(AMZ_DATE_FORMAT)
        detail = f"Signature expired: {auth.amz_date} is now earlier than {limit}"
        detail += f" ({now.strftime(AMZ_DATE_FORMAT)} - {skew / 60:g} min.)"
    else:
        return
    too_large = "The difference between the request time and the current time is too large."
    raise _bad_signature(detail, known, auth.scope, ("RequestTimeTooSkewed", 403, too_large))


def _check_signature(req: HttpRequest, auth: _Auth, entry: KeyEntry) -> None:
    payload = _payload_hash(req, auth, entry.principal)
    canonical = "\n".join(
        (
            req.method.upper(),
            _canonical_uri(req.path, auth.scope.service),
            _canonical_query(req.query, auth.presigned),
            "".join(
                f"{name}:{' '.join(req.headers.get(name, '').split())}\n" for name in auth.signed_headers
            ),
            ";".join(auth.signed_headers),
            payload,
        )
    )
    scope = f"{auth.scope.date}/{auth.scope.region}/{auth.scope.service}/{TERMINATOR}"
    to_sign = f"{ALGORITHM}\n{auth.amz_date}\n{scope}\n{sha256(canonical.encode()).hexdigest()}"
    key = _signing_key(entry.secret_access_key, auth.scope.date, auth.scope.region, auth.scope.service)
    expected = hmac.digest(key, to_sign.encode(), "sha256").hex()
    if not hmac.compare_digest(expected.encode(), auth.signature.encode()):
        raise _bad_signature(_MISMATCH, entry.principal, auth.scope)


@lru_cache(maxsize=1024)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The derived key for one (secret, day, region, service): four HMACs saved on most calls."""
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), sha256).digest()
    for part in (region, service, TERMINATOR):
        key = hmac.new(key, part.encode(), sha256).digest()
    return key


@lru_cache(maxsize=1024)
def _canonical_uri(raw_path: str, service: str) -> str:
    if service in _S3_VARIANT:
        return raw_path or "/"
    # Dot segments and doubled slashes removed, then the already-encoded path quoted once more
    # (a space is sent as "%20" and signed as "%2520"), exactly as botocore's SigV4Auth does.
    return quote(normalize_url_path(raw_path), safe="/~")


def _canonical_query(raw: str, presigned: bool) -> str:
    """Pairs decoded and re-encoded RFC 3986 style, sorted; a presigned URL's own signature left out."""
    if not raw:
        return ""
    pairs = []
    for part in raw.split("&"):
        name, _, value = part.partition("=")
        encoded = quote(unquote_to_bytes(name), safe="-_.~")
        if not (presigned and encoded == "X-Amz-Signature"):
            pairs.append((encoded, quote(unquote_to_bytes(value), safe="-_.~")))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _payload_hash(req: HttpRequest, auth: _Auth, principal: Principal) -> str:
    """The payload hash to sign with; a declared x-amz-content-sha256 must be the body's own."""
    declared = req.headers.get("x-amz-content-sha256")
    s3 = auth.scope.service in _S3_VARIANT
    if s3 and (declared == UNSIGNED_PAYLOAD or (auth.presigned and declared is None)):
        return UNSIGNED_PAYLOAD  # S3 may leave the body out of the signature (always so when presigned)
    actual = sha256(req.body).hexdigest()
    if declared is not None and declared != actual:
        computed = "The provided 'x-amz-content-sha256' header does not match what was computed."
        raise _bad_signature(_MISMATCH, principal, auth.scope, ("XAmzContentSHA256Mismatch", 400, computed))
    return actual
