"""HTTPS and mutual TLS against the real server, with certificates made here.

One server serves an `mtls` listener and a public one: the mtls listener admits a client
certificate signed by the configured CA (its subject becomes a property) and refuses a
request without one (401); a certificate from another CA fails the TLS handshake; the
public listener needs no certificate.
"""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.serverproc import ADMIN, WharfServer

pytestmark = pytest.mark.e2e

PROCESSES = {
    "partner.yaml": (
        "name: partner\nrecord: full\n"
        "trigger:\n  http: {path: /partner, auth: {mtls: {subjects: ['CN=partner-a,O=Acme']}}}\n"
        "steps: []\n"
    ),
    "any-cert.yaml": (
        "name: any-cert\ntrigger:\n  http: {path: /any, auth: {mtls: {}}}\nsteps: []\n"
    ),
    "public.yaml": "name: public\ntrigger:\n  http: {path: /public, auth: none}\nsteps: []\n",
}


def _name(common: str, org: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common)]
    if org:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(parts)


def _certificate(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    made = tmp_path / "pki"
    made.mkdir()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Wharf test CA")
    ca = _certificate(ca_name, ca_key, ca_name, ca_key, ca=True)
    _write(made / "ca", ca, ca_key)
    for stem, subject, server in (
        ("server", _name("localhost"), True),
        ("partner", _name("partner-a", "Acme"), False),
        ("stranger", _name("partner-b", "Acme"), False),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        _write(made / stem, _certificate(subject, key, ca_name, ca_key, server=server), key)
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    rogue_ca = _name("Rogue CA")
    other = ec.generate_private_key(ec.SECP256R1())
    _write(
        made / "rogue", _certificate(_name("partner-a", "Acme"), other, rogue_ca, rogue_key), other
    )
    return made


def client_context(pki: Path, cert: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    if cert is not None:
        context.load_cert_chain(str(pki / f"{cert}.crt"), str(pki / f"{cert}.key"))
    return context


async def post(url: str, context: ssl.SSLContext) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={}, ssl=context) as response,
    ):
        return response.status


async def test_mutual_tls_listeners(tmp_path: Path, pki: Path) -> None:
    directory = tmp_path / "processes"
    directory.mkdir()
    for name, text in PROCESSES.items():
        (directory / name).write_text(text)
    env = {
        "WHARF_TLS_CERT": str(pki / "server.crt"),
        "WHARF_TLS_KEY": str(pki / "server.key"),
        "WHARF_TLS_CLIENT_CA": str(pki / "ca.crt"),
    }
    server = WharfServer(directory, "--store", f"sqlite:///{tmp_path}/s.db", env=env)
    server.start()
    try:
        base = f"https://localhost:{server.port}"
        assert await post(f"{base}/partner", client_context(pki, "partner")) == 200
        assert await post(f"{base}/partner", client_context(pki, None)) == 401
        assert await post(f"{base}/partner", client_context(pki, "stranger")) == 403
        assert await post(f"{base}/any", client_context(pki, "stranger")) == 200
        assert await post(f"{base}/public", client_context(pki, None)) == 200
        with pytest.raises(aiohttp.ClientError):  # a certificate from another CA: no handshake
            await post(f"{base}/partner", client_context(pki, "rogue"))
        async with (
            aiohttp.ClientSession(headers=ADMIN) as session,
            session.get(
                f"{base}/api/executions?process=partner", ssl=client_context(pki, None)
            ) as listing,
        ):
            items = (await listing.json())["items"]
        assert len(items) == 1  # the refused requests never reached the process
        async with (
            aiohttp.ClientSession(headers=ADMIN) as session,
            session.get(
                f"{base}/api/executions/{items[0]['id']}", ssl=client_context(pki, None)
            ) as one,
        ):
            record = await one.json()
        assert record["input"][0]["properties"]["client_subject"] == "CN=partner-a,O=Acme"
        assert "https://" in server.log
    finally:
        server.stop()
