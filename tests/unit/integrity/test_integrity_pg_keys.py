"""integrity/pg_keys.py on the real PostgreSQL (a fresh schema per test, its journal's tables made by the
real journal): two pools on one schema are two nodes. First use is race-free, rotation keeps old keys
listed, what one node signs the other's keys verify, and no private key byte is stored in the clear."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.unit.integrity.conftest import T0
from tests.unit.journal.support import Backend, backend_of
from trailkeeper.config import Settings
from trailkeeper.integrity.checks import PublicKeys, check_digest
from trailkeeper.integrity.digest import DigestContent, digest_key, sign_digest
from trailkeeper.integrity.key_seal import seal_private_key, unseal_private_key
from trailkeeper.integrity.key_store import FileKeyStore, SigningKeyStore
from trailkeeper.integrity.keys import KEY_VALIDITY_MS, KeyStoreError, SigningKey
from trailkeeper.integrity.pg_keys import SEAL_SECRET_NAME, PgKeyStore
from trailkeeper.pgstate.db import PgDatabase
from trailkeeper.services.state import state_backend

EAST, WEST = "us-east-1", "eu-west-1"
ACCOUNT, BUCKET = "111122223333", "audit-logs"


@pytest.fixture
def schema(tmp_path: Path) -> Iterator[Backend]:
    """A fresh schema holding the journal's tables (its ``secrets`` table among them), dropped afterwards."""
    with backend_of("postgres", tmp_path) as store:

        async def create() -> None:
            async with store.opened():
                pass

        asyncio.run(create())
        yield store


@asynccontextmanager
async def node(url: str) -> AsyncIterator[PgKeyStore]:
    """One node's key store on its own pool."""
    store = PgKeyStore(PgDatabase(url, size=2))
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def _rows(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT * FROM signing_keys ORDER BY region, generation").fetchall()


def test_protocol_holds() -> None:
    stores: list[SigningKeyStore] = [PgKeyStore(PgDatabase("postgresql://127.0.0.1/x"))]  # mypy checks
    assert stores[0].describe() == "pg-signing-keys(postgresql://127.0.0.1/x)"


def test_two_nodes_making_a_regions_first_key_at_once_end_with_one_key(schema: Backend) -> None:
    async def scenario() -> None:
        async with node(schema.location) as a, node(schema.location) as b:
            for region in (EAST, WEST):
                # Both read "no key", both generate one (~0.1 s), both insert generation 1: one wins.
                got = await asyncio.gather(*(n.current(region, T0) for n in (a, b, a, b)))
                assert len({key.public.fingerprint for key in got}) == 1
                assert got[0].private.private_numbers() == got[1].private.private_numbers()
            assert await b.regions() == [WEST, EAST]  # sorted bytewise: "eu-" < "us-"

    asyncio.run(scenario())
    rows = _rows(schema.location)
    assert [(r[0], r[1]) for r in rows] == [(WEST, 1), (EAST, 1)]


def test_rotation_on_one_node_lists_old_and_new_keys_on_the_other(schema: Backend) -> None:
    async def scenario() -> None:
        async with node(schema.location) as a, node(schema.location) as b:
            first = (await a.current(EAST, T0)).public
            [second] = await b.rotate([EAST], T0 + 5_000)
            assert (second.region, second.start_ms, second.end_ms) == (
                EAST,
                T0 + 5_000,
                T0 + 5_000 + KEY_VALIDITY_MS,
            )
            listed = await a.public_keys(EAST, T0, T0 + 10_000)
            assert [k.fingerprint for k in listed] == [first.fingerprint, second.fingerprint]
            assert (listed[0].start_ms, listed[0].end_ms) == (T0, T0 + 5_000)  # ended at the rotation
            assert [k.fingerprint for k in await a.public_keys(EAST, T0 + 6_000, T0 + 7_000)] == [
                second.fingerprint
            ]
            assert await a.public_keys(WEST, T0, T0 + 10_000) == []
            # node A signs with B's new key from now on, unsealing it from the table
            assert (await a.current(EAST, T0 + 6_000)).public == second
            # windows run out: the next use makes the third generation
            later = T0 + 5_000 + KEY_VALIDITY_MS
            third = (await b.current(EAST, later)).public
            assert third.fingerprint not in (first.fingerprint, second.fingerprint)
            assert (await a.current(EAST, later)).public == third

    asyncio.run(scenario())
    assert [r[1] for r in _rows(schema.location)] == [1, 2, 3]


def _content(key: SigningKey) -> DigestContent:
    end = T0 + 3_600_000
    where = digest_key(
        prefix=None, org_id=None, account_id=ACCOUNT, region=EAST, trail_name="main",
        home_region=EAST, end_ms=end,
    )  # fmt: skip
    return DigestContent(ACCOUNT, T0, end, BUCKET, where, key.public.fingerprint, None, ())


def test_a_digest_signed_on_node_a_verifies_with_the_keys_node_b_lists(schema: Backend) -> None:
    async def scenario() -> None:
        async with node(schema.location) as a, node(schema.location) as b:
            signed = sign_digest(_content(await a.current(EAST, T0)), await a.current(EAST, T0))
            # the AWS CLI's range: the digest's period, plus two hours
            listed = await b.public_keys(EAST, T0, T0 + 3 * 3_600_000)
            ders = {key.fingerprint: key.der for key in listed}
            doc = check_digest(BUCKET, signed.key, signed.gzip_body, signed.metadata, PublicKeys(ders), EAST)
            assert doc["digestPublicKeyFingerprint"] in ders

    asyncio.run(scenario())


def _secret_forms(private: rsa.RSAPrivateKey) -> dict[str, bytes]:
    """Every form a leaked private key could take in a row: encodings and the raw secret numbers."""
    numbers = private.private_numbers()
    none = serialization.NoEncryption()
    pkcs8, pem = (
        private.private_bytes(encoding, serialization.PrivateFormat.PKCS8, none)
        for encoding in (serialization.Encoding.DER, serialization.Encoding.PEM)
    )
    forms = {
        "pkcs8 der": pkcs8,
        "pkcs8 pem line": pem.splitlines()[3],  # 64 base64 characters from inside the key
        "pkcs1 der": private.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, none
        ),
    }
    for name, value in (("d", numbers.d), ("p", numbers.p), ("q", numbers.q), ("dmp1", numbers.dmp1)):
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        forms[name] = raw[:32]  # any 32-byte run of a secret number is a leak
        forms[f"{name} hex"] = raw[:32].hex().encode()
        forms[f"{name} decimal"] = str(value)[:40].encode()
    return forms


def test_private_keys_never_appear_in_plaintext_in_the_table(schema: Backend) -> None:
    async def scenario() -> list[SigningKey]:
        async with node(schema.location) as a:
            made = [await a.current(EAST, T0), await a.current(WEST, T0)]
            await a.rotate([EAST], T0 + 1_000)
            return [*made, await a.current(EAST, T0 + 2_000)]

    keys = asyncio.run(scenario())
    with psycopg.connect(schema.location) as conn:
        # every column's stored bytes, and the row as text (bytea shows as hex there)
        raw = [
            bytes(v)
            for row in conn.execute("SELECT * FROM signing_keys").fetchall()
            for v in row
            if isinstance(v, bytes)
        ]
        texts = [row[0].encode() for row in conn.execute("SELECT t::text FROM signing_keys t").fetchall()]
    haystack = b"\n".join(raw + texts)
    assert len(texts) == 3
    for key in keys:
        for name, form in _secret_forms(key.private).items():
            assert form not in haystack, f"{name} of {key.public.fingerprint} is stored in the clear"
            assert form.hex().encode() not in haystack, name


def test_a_sealed_key_opens_only_with_its_databases_secret(schema: Backend) -> None:
    async def scenario() -> None:
        async with node(schema.location) as a:
            made = await a.current(EAST, T0)
        with psycopg.connect(schema.location, autocommit=True) as conn:
            conn.execute("UPDATE secrets SET value = %s WHERE name = %s", (b"\x00" * 32, SEAL_SECRET_NAME))
        async with node(schema.location) as other:  # a fresh node: nothing cached
            assert (await other.public_keys(EAST, T0, T0))[0] == made.public  # public halves still list
            with pytest.raises(KeyStoreError, match="does not open"):
                await other.current(EAST, T0)

    asyncio.run(scenario())


def test_signing_needs_the_journals_secrets_table(tmp_path: Path) -> None:
    with backend_of("postgres", tmp_path) as bare:  # a schema no journal has used yet

        async def scenario() -> None:
            async with node(bare.location) as a:
                assert await a.public_keys(EAST, 0, 2**62) == []
                with pytest.raises(KeyStoreError, match="start `trailkeeper serve --journal"):
                    await a.current(EAST, T0)

        asyncio.run(scenario())


def test_state_backend_picks_the_store_by_journal_url(tmp_path: Path, schema: Backend) -> None:
    sqlite = state_backend(Settings(data_dir=tmp_path)).signing_keys()
    assert isinstance(sqlite, FileKeyStore)
    assert sqlite.store.root == tmp_path / "keys"  # the file layout of every release so far
    backend = state_backend(Settings(data_dir=tmp_path, journal_url=schema.location))
    assert isinstance(backend.signing_keys(), PgKeyStore)
    assert backend.signing_keys() is backend.signing_keys()  # one per process: one key cache


def _rotate(url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    args = ["keys", "rotate", "--journal", url, "--data-dir", str(tmp_path / "data")]
    return subprocess.run(
        [sys.executable, "-m", "trailkeeper.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_keys_rotate_command_rotates_in_the_shared_database(schema: Backend, tmp_path: Path) -> None:
    nothing = _rotate(schema.location, tmp_path)
    assert nothing.returncode == 0, nothing.stderr
    assert "nothing to rotate" in nothing.stderr

    async def first() -> str:
        async with node(schema.location) as a:
            return (await a.current(EAST, T0)).public.fingerprint

    old = asyncio.run(first())
    rotated = _rotate(schema.location, tmp_path)
    assert rotated.returncode == 0, rotated.stderr
    assert f"{EAST}: new signing key" in rotated.stderr
    fingerprints = [str(row[2]) for row in _rows(schema.location)]
    assert len(fingerprints) == 2
    assert fingerprints[0] == old
    assert fingerprints[1] in rotated.stderr
    assert not (tmp_path / "data" / "keys").exists()  # nothing written to the node's data dir


def test_a_sealed_key_moved_to_another_row_does_not_open(tmp_path: Path) -> None:
    secret = bytes(range(32))
    key = FileKeyStore.in_data_dir(tmp_path).store.current(EAST, T0)
    sealed = seal_private_key(secret, key.public, key.private)
    assert unseal_private_key(secret, key.public, sealed).private_numbers() == key.private.private_numbers()
    moved = dataclasses.replace(key.public, region=WEST)  # the same bytes on another region's row
    with pytest.raises(KeyStoreError, match="does not open"):
        unseal_private_key(secret, moved, sealed)
    with pytest.raises(KeyStoreError, match="does not open"):
        unseal_private_key(secret, key.public, sealed[:-1] + bytes([sealed[-1] ^ 1]))
