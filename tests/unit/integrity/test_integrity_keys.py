"""integrity/keys.py: per-region RSA-2048 keys made on first use, private files 0600, rotation, AWS format."""

from __future__ import annotations

import base64
import hashlib
import stat
from pathlib import Path

import pytest
import rsa as python_rsa  # type: ignore[import-untyped]  # the AWS CLI v1 key loader
from cryptography.hazmat.primitives.asymmetric import rsa

from trailkeeper.integrity.keys import (
    KEY_BITS,
    KEY_VALIDITY_MS,
    KeyStore,
    KeyStoreError,
    fingerprint_of,
    is_region_name,
    public_key_der,
)

T0 = 1_767_312_000_000  # 2026-01-02T00:00:00Z

# The four public keys AWS has published with their fingerprints: three in the CloudTrail guide's
# "Custom implementations" page and one in the CLI's list-public-keys example (cloudtrail-spec.md §0.3).
PUBLISHED = [
    (
        "MIIBCgKCAQEAn11L2YZ9h7onug2ILi1MWyHiMRsTQjfWE+pHVRLk1QjfWhirG+lpOa8NrwQ/r7Ah5bNL6HepznOU9XTDSfmmnP97m"
        "qyc7z/upfZdS/AHhYcGaz7n6Wc/RRBU6VmiPCrAUojuSk6/GjvA8iOPFsYDuBtviXarvuLPlrT9kAd4Lb+rFfR5peEgBEkhlzc5H"
        "uWO7S0y+KunqxX6jQBnXGMtxmPBPP0FylgWGNdFtks/4YSKcgqwH0YDcawP9GGGDAeCIqPWIXDLG1jOjRRzWfCmD0iJUkz8vTsn4"
        "hq/5ZxRFE7UBAUiVcGbdnDdvVfhF9C3dQiDq3k7adQIziLT0cShgQIDAQAB",
        "8eba5db5bea9b640d1c96a77256fe7f2",
    ),
    (
        "MIIBCgKCAQEApfYL2FiZhpN74LNWVUzhR+VheYhwhYm8w0n5Gf6i95ylW5kBAWKVEmnAQG7BvS5g9SMqFDQx52fW7NWV44IvfJ2xG"
        "XT+wT+DgR6ZQ+6yxskQNqV5YcXj4Aa5Zz4jJfsYjDuO2MDTZNIzNvBNzaBJ+r2WIWAJ/Xq54kyF63B6WE38vKuDE7nSd1FqQuEoN"
        "BFLPInvgggYe2Ym1Refe2z71wNcJ2kY+q0h1BSHrSM8RWuJIw7MXwF9iQncg9jYzUlNJomozQzAG5wSRfbplcCYNY40xvGd/aAmO"
        "0m+Y+XFMrKwtLCwseHPvj843qVno6x4BJN9bpWnoPo9sdsbGoiK3QIDAQAB",
        "8933b39ddc64d26d8e14ffbf6566fee4",
    ),
    (
        "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqlzPJbvZJ42UdcmLfPUqXYNfOs6I8lCfao/tOs8CmzPOEdtLWugB9xoIU"
        "z78qVHdKIqxbaG4jWHfJBiOSSFBM0lt8cdVo4TnRa7oG9io5pysS6DJhBBAeXsicufsiFJR+wrUNh8RSLxL4k6G1+BhLX20tJkZ"
        "/erT97tDGBujAelqseGg3vPZbTx9SMfOLN65PdLFudLP7Gat0Z9p5jw/rjpclKfo9Bfc3heeBxWGKwBBOKnFAaN9V57pOaosCvPK"
        "mHd9bg7jsQkI9Xp22IzGLsTFJZYVA3KiTAElDMu80iFXPHEq9hKNbt9e4URFam+1utKVEiLkR2disdCmPTK0VQIDAQAB",
        "31e8b5433410dfb61a9dc45cc65b22ff",
    ),
    (
        "MIIBCgKCAQEAlSS3cl92HDycr/MTj0moOhas8habjrraXw+KzlWF0axSI2tcF+3iJ9BKQAVSKxGwxwu3m0wG3J+kUl1xboEcEPHYo"
        "IYMbgfSw7KGnuDKwkLzsQWhUJ0cIbOHASox1vv/5fNXkrHhGbDCHeVXm804c83nvHUEFYThr1PfyP/8HwrCtR3FX5OANtQCP61C1"
        "nJtSSkC8JSQUOrIP4CuwJjc+4WGDk+BGH5m9iuiAKkipEHWmUl8/P7XpfpWQuk4h8g3pXZOrNXr08lbh4d39svj7UqdhvOXoBISp"
        "9t/EXYuePGEtBdrKD9Dz+VHwyUPtBQvYr9BnkF88qBnaPNhS44rzwIDAQAB",
        "7f3f401420072e50a65a141430817ab3",
    ),
]


@pytest.mark.parametrize(("value", "fingerprint"), PUBLISHED, ids=[f for _, f in PUBLISHED])
def test_fingerprint_of_published_key_is_md5_of_its_der(value: str, fingerprint: str) -> None:
    assert fingerprint_of(base64.b64decode(value)) == fingerprint


def test_current_key_first_use_makes_rsa_2048_pkcs1_key_with_private_file_0600(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    key = store.current("us-east-1", T0)
    assert isinstance(key.private, rsa.RSAPrivateKey)
    assert key.private.key_size == KEY_BITS
    assert base64.b64encode(key.public.der).startswith(b"MIIBCg")  # PKCS#1, as in AWS's samples
    assert key.public.der == public_key_der(key.private.public_key())
    assert key.public.fingerprint == hashlib.md5(key.public.der).hexdigest()
    # The AWS CLI (v1) loads exactly this: python-rsa's PKCS#1 DER loader.
    assert (
        python_rsa.PublicKey.load_pkcs1(key.public.der, format="DER").n
        == key.private.public_key().public_numbers().n
    )
    assert (key.public.start_ms, key.public.end_ms) == (T0, T0 + KEY_VALIDITY_MS)
    pem = tmp_path / "keys" / "us-east-1" / f"{key.public.fingerprint}.pem"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert b"PRIVATE KEY" not in (tmp_path / "keys" / "index.json").read_bytes()


def test_current_key_same_region_is_reused_and_other_region_gets_its_own(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    east = store.current("us-east-1", T0)
    assert store.current("us-east-1", T0 + 1000).public == east.public
    west = store.current("eu-west-1", T0)
    assert west.public.fingerprint != east.public.fingerprint
    # Another process (a fresh store on the same folder) finds the same keys.
    assert KeyStore(tmp_path / "keys").current("us-east-1", T0 + 2000).public == east.public
    assert KeyStore(tmp_path / "keys").regions() == ["eu-west-1", "us-east-1"]


def test_rotate_ends_old_window_and_old_key_stays_listed_for_it(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    old = store.current("us-east-1", T0).public
    [new] = store.rotate(["us-east-1"], T0 + 60_000)
    assert new.fingerprint != old.fingerprint
    assert new.start_ms == T0 + 60_000
    assert store.current("us-east-1", T0 + 61_000).public == new
    listed = store.public_keys("us-east-1", T0, T0 + 120_000)
    assert [k.fingerprint for k in listed] == [old.fingerprint, new.fingerprint]
    assert listed[0].end_ms == T0 + 60_000  # the old window now ends at the rotation
    assert [k.fingerprint for k in store.public_keys("us-east-1", T0 + 120_000, T0 + 130_000)] == [
        new.fingerprint
    ]
    assert store.public_keys("eu-west-1", T0, T0 + 120_000) == []


def test_current_key_expired_window_makes_a_new_key(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    first = store.current("us-east-1", T0).public
    later = store.current("us-east-1", T0 + KEY_VALIDITY_MS).public
    assert later.fingerprint != first.fingerprint
    assert later.start_ms == T0 + KEY_VALIDITY_MS


def test_private_key_not_matching_its_index_is_refused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    key = store.current("us-east-1", T0).public
    other = KeyStore(tmp_path / "other").current("us-east-1", T0)
    pem = tmp_path / "keys" / "us-east-1" / f"{key.fingerprint}.pem"
    pem.write_bytes((tmp_path / "other" / "us-east-1" / f"{other.public.fingerprint}.pem").read_bytes())
    with pytest.raises(KeyStoreError, match="does not match"):
        KeyStore(tmp_path / "keys").current("us-east-1", T0)


@pytest.mark.parametrize("region", ["../etc", "us-east-1/..", "", "US-EAST-1", "local"])
def test_current_key_region_not_a_region_name_refused(tmp_path: Path, region: str) -> None:
    assert not is_region_name(region)
    with pytest.raises(KeyStoreError):
        KeyStore(tmp_path / "keys").current(region, T0)
    assert not (tmp_path / "etc").exists()
