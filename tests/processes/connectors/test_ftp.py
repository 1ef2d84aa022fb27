"""The `ftp` connector's own part, against a pyftpdlib server started here: explicit FTPS
with a private CA (the shared actions are in remote_files/)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.servers import FTPServer

from runtime.core.document import Document
from tests.processes.connectors.remote_files.test_remote_files import (
    ROUND_TRIP,
    build,
    round_trip,
)
from tests.remote_servers import PASSWORD


def _self_signed(directory: Path) -> tuple[Path, Path]:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def ftps_server(tmp_path: Path) -> Iterator[tuple[int, Path, Path]]:
    from pyftpdlib.handlers import TLS_FTPHandler

    root = tmp_path / "ftps-root"
    root.mkdir()
    cert_file, key_file = _self_signed(tmp_path)
    authorizer = DummyAuthorizer()
    authorizer.add_user("wharf", PASSWORD, str(root), perm="elradfmwMT")
    handler = type(
        "TlsHandler",
        (TLS_FTPHandler,),
        {
            "authorizer": authorizer,
            "certfile": str(cert_file),
            "keyfile": str(key_file),
            "tls_control_required": True,
            "tls_data_required": True,
        },
    )
    server = FTPServer(("127.0.0.1", 0), handler)
    port = server.socket.getsockname()[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.1}, daemon=True)
    thread.start()
    yield port, root, cert_file
    server.close_all()
    thread.join(5)


async def test_ftps_with_a_self_signed_certificate(
    ftps_server: tuple[int, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, root, cert_file = ftps_server
    monkeypatch.setenv("WHARF_T_FTP", PASSWORD)
    connection = f"""
        connector: ftp
        host: 127.0.0.1
        port: {port}
        username: wharf
        password: "${{env:WHARF_T_FTP}}"
        tls: explicit
        ca_file: {cert_file}
    """
    process, connections = build(tmp_path / "ftps", connection, ROUND_TRIP.format(kind="ftp"))
    await round_trip(process, connections, root)
    # Without the CA, the server's certificate is not trusted: refused, nothing uploaded.
    untrusted = connection.replace(f"ca_file: {cert_file}", "")
    process, connections = build(tmp_path / "untrusted", untrusted, ROUND_TRIP.format(kind="ftp"))
    result = await process.execute(
        [Document.text("x", "text/csv", {"id": "nope"})], connections=connections
    )
    assert result.execution.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in result.execution.error.detail
    assert not (root / "in" / "nope.csv").exists()
    await connections.close()
