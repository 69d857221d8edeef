"""HTTPS served by the APIs themselves: TLS 1.2 and 1.3 only, the dev certificate."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter

from libs.config import HttpSettings
from libs.platform.devcert import generate_dev_certificate
from libs.platform.natsd import free_port
from libs.web import build_app, http_server


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    generate_dev_certificate(cert, key, hosts=["localhost", "127.0.0.1"])
    return cert, key


def test_the_dev_certificate_is_for_the_given_hosts_and_its_key_is_private(
    certificate: tuple[Path, Path],
) -> None:
    from cryptography import x509

    cert, key = certificate
    assert key.stat().st_mode & 0o777 == 0o600
    parsed = x509.load_pem_x509_certificate(cert.read_bytes())
    names = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    lifetime = parsed.not_valid_after_utc - parsed.not_valid_before_utc
    assert 89 <= lifetime.days <= 91


def _client_context(cert: Path, *, maximum: ssl.TLSVersion) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cert))
    # Let this client offer old versions at all: OpenSSL 3 refuses them at its default level.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # offering them is the point
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = maximum
    return context


def _handshake(port: int, context: ssl.SSLContext) -> tuple[str, bytes]:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
        return str(tls.version()), answer


def _old_tls_possible(cert: Path, key: Path) -> bool:
    """Whether this machine's OpenSSL can speak TLS 1.1 at all (a control for the test)."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    server_context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        server_context.minimum_version = ssl.TLSVersion.TLSv1
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            connection, _ = listener.accept()
            try:
                with server_context.wrap_socket(connection, server_side=True) as tls:
                    tls.recv(1)
            except (ssl.SSLError, OSError):
                pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            client = _client_context(cert, maximum=ssl.TLSVersion.TLSv1_1)
            with (
                socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
                client.wrap_socket(raw, server_hostname="localhost") as tls,
            ):
                return tls.version() == "TLSv1.1"
        except (ssl.SSLError, OSError):
            return False
        finally:
            thread.join(timeout=5)


async def test_the_api_speaks_tls_1_2_and_up_only(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    port = free_port()
    app = build_app(title="tls", version="0", description="", routers=[APIRouter()])
    server = http_server(
        app,
        HttpSettings(host="127.0.0.1", port=port, tls_cert_file=cert, tls_key_file=key),
        lifespan="off",
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        version, answer = await asyncio.to_thread(
            _handshake, port, _client_context(cert, maximum=ssl.TLSVersion.TLSv1_2)
        )
        assert version == "TLSv1.2"
        assert answer.startswith(b"HTTP/1.1 200")
        assert b"strict-transport-security: max-age=63072000" in answer.lower()
        version, _ = await asyncio.to_thread(
            _handshake, port, _client_context(cert, maximum=ssl.TLSVersion.TLSv1_3)
        )
        assert version == "TLSv1.3"

        if not await asyncio.to_thread(_old_tls_possible, cert, key):
            pytest.skip("this OpenSSL cannot speak TLS 1.1 even when asked: nothing to refuse")
        for old in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
            with pytest.raises(ssl.SSLError):
                await asyncio.to_thread(_handshake, port, _client_context(cert, maximum=old))
    finally:
        server.should_exit = True
        await task
