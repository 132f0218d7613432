"""Served over TLS, records carry tlsDetails with the negotiated version and cipher, as AWS writes them."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import boto3
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.conftest import ALICE, find_event, write_config
from tests.e2e.server import TrailkeeperServer


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_tls_calls_record_tls_details(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    srv = TrailkeeperServer(
        tmp_path / "data",
        config=write_config(tmp_path),
        extra_args=("--tls-cert", str(cert), "--tls-key", str(key)),
        tls_ca=cert,
    )
    srv.start()
    try:
        session = boto3.session.Session(
            aws_access_key_id=ALICE.access_key_id,
            aws_secret_access_key=ALICE.secret_access_key,
            region_name="us-east-1",
        )
        cfg = Config(retries={"max_attempts": 1})
        glue = session.client("glue", endpoint_url=srv.url, verify=str(cert), config=cfg)
        resp = glue.get_databases()
        ct = session.client("cloudtrail", endpoint_url=srv.url, verify=str(cert), config=cfg)
        record = find_event(ct, resp["ResponseMetadata"]["RequestId"], "GetDatabases")
        tls = record["tlsDetails"]
        assert list(tls) == ["tlsVersion", "cipherSuite", "clientProvidedHostHeader"]
        assert tls["tlsVersion"] in ("TLSv1.2", "TLSv1.3")
        assert tls["cipherSuite"]
        assert tls["clientProvidedHostHeader"] == f"127.0.0.1:{srv.port}"
        assert list(record)[-1] == "tlsDetails"
    finally:
        srv.stop()
