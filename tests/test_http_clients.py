"""The library's httpx clients: one shared TLS context per process that still verifies, and
idle connections that expire before a server closes them.

``fanvue_embedded._http.build_async_client`` hands every client the same context (loading the
CA bundle per client cost ~30 ms of CPU each): sharing it must not loosen certificate checks.
"""

from __future__ import annotations

import asyncio
import datetime
import ssl
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fanvue_embedded._http import KEEPALIVE_EXPIRY, build_async_client, shared_tls_context

pytestmark = pytest.mark.anyio


def self_signed(directory: Path) -> ssl.SSLContext:
    """A server context with a self-signed certificate for 127.0.0.1 (trusted by no one)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


async def test_clients_share_one_verifying_context_and_refuse_an_untrusted_certificate(
    tmp_path: Path,
) -> None:
    assert shared_tls_context() is shared_tls_context()
    assert shared_tls_context().verify_mode is ssl.CERT_REQUIRED
    assert shared_tls_context().check_hostname

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()  # the handshake already failed on the client's side, or never ran

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=self_signed(tmp_path))
    port = server.sockets[0].getsockname()[1]
    try:
        for _ in range(2):  # a second client, built on the same shared context
            async with build_async_client(timeout=10) as client:
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    await client.get(f"https://127.0.0.1:{port}/")
    finally:
        server.close()
        await server.wait_closed()


def _pool_expiry(client: httpx.AsyncClient) -> float | None:
    transport = client._transport  # the pool settings are not public
    assert isinstance(transport, httpx.AsyncHTTPTransport)
    expiry: float | None = transport._pool._keepalive_expiry
    return expiry


async def test_idle_connections_expire_before_a_uvicorn_server_closes_them() -> None:
    # A pooled connection reused just as the server closes it fails the request
    # ("Server disconnected without sending a response"): ours must expire first.
    server_idle_timeout = uvicorn.Config(app="unused:app").timeout_keep_alive
    async with build_async_client() as client:
        assert _pool_expiry(client) == KEEPALIVE_EXPIRY
    assert server_idle_timeout > KEEPALIVE_EXPIRY
