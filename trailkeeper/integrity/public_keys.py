"""CloudTrail ListPublicKeys: a time range in; the calling region's digest-signing public keys out.

Every key of the region whose validity window overlaps [StartTime, EndTime] (both default to now)
is listed, oldest first, as the model's PublicKey: ``Value`` the DER PKCS#1 bytes (the JSON
renderer base64-encodes blobs), ``Fingerprint`` their MD5. Keys are made when a digest is first
signed in a region; a region that never had a digest lists none. The keys come from the node's
state backend, so with a shared PostgreSQL journal every node lists the keys any node signs with.
The AWS CLI calls this once, with ``EndTime`` = the end of the range it validates + 2 h, and
never pages (NextToken is "reserved for future use").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from trailkeeper.errors import AwsError
from trailkeeper.integrity.key_store import FileKeyStore, SigningKeyStore
from trailkeeper.integrity.keys import PublicKey, is_region_name
from trailkeeper.services.registry import CallEnv, register

__all__ = ["list_public_keys", "render_public_key", "time_range"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // timedelta(milliseconds=1)


def time_range(params: dict[str, Any], now: datetime) -> tuple[int, int]:
    """(start, end) in epoch ms; AWS's InvalidTimeRangeException when the start is after the end."""
    start, end = params.get("StartTime"), params.get("EndTime")
    start_ms = _ms(start) if isinstance(start, datetime) else _ms(now)
    end_ms = _ms(end) if isinstance(end, datetime) else _ms(now)
    if start_ms > end_ms:
        # AWS documents the code, not the message: the wording is ours, as LookupEvents' (UNCONFIRMED).
        raise AwsError("InvalidTimeRangeException", "Start time must be less than or equal to end time.", 400)
    return start_ms, end_ms


def render_public_key(key: PublicKey) -> dict[str, Any]:
    """One PublicKey in the model's member order; whole-second times as AWS's samples show them."""
    return {
        "Value": key.der,
        "ValidityStartTime": _EPOCH + timedelta(seconds=key.start_ms // 1000),
        "ValidityEndTime": _EPOCH + timedelta(seconds=key.end_ms // 1000),
        "Fingerprint": key.fingerprint,
    }


@register("cloudtrail", "ListPublicKeys")
async def list_public_keys(env: CallEnv, params: dict[str, Any]) -> dict[str, Any]:
    """Keys are per region (the model's note): the caller's region picks them."""
    start_ms, end_ms = time_range(params, env.now)
    if not is_region_name(env.region):
        return {"PublicKeyList": []}
    state = env.app.state
    store: SigningKeyStore = (
        state.signing_keys() if state is not None else FileKeyStore.in_data_dir(env.app.settings.data_dir)
    )
    await store.open()
    try:
        keys = await store.public_keys(env.region, start_ms, end_ms)
    finally:
        await store.close()
    return {"PublicKeyList": [render_public_key(key) for key in keys]}
