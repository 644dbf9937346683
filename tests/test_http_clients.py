"""The library's httpx clients: one shared TLS context per process that still verifies, and
idle connections that expire before a server closes them.

``fanvue_embedded._http.build_async_client`` hands every client the same context (loading the
CA bundle per client cost ~30 ms of CPU each): sharing it must not loosen certificate checks.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
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
from fanvue_embedded._transport import build_transport, probes_cheaply

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
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
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


def _trusting(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context and a client context that trusts exactly its certificate."""
    server = self_signed(directory)
    client = ssl.create_default_context(cafile=str(directory / "cert.pem"))
    return server, client


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
async def test_a_pooled_connection_the_server_closed_is_noticed_and_replaced(
    tls: bool, tmp_path: Path
) -> None:
    # The pool's liveness probe is ours (``_transport``): a server that answers and then
    # closes the idle connection must not fail the next request, which gets a new connection.
    server_context, client_context = _trusting(tmp_path) if tls else (None, None)
    connections = 0
    closed = asyncio.Event()

    async def answer_once_then_close(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        # Keep-alive was promised; the server drops the connection anyway (abort: over TLS, a
        # clean close would wait for the idle client's close_notify before the FIN goes out).
        writer.transport.abort()
        closed.set()

    server = await asyncio.start_server(answer_once_then_close, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    scheme = "https" if tls else "http"
    limits = httpx.Limits(max_keepalive_connections=5, keepalive_expiry=KEEPALIVE_EXPIRY)
    transport = build_transport(verify=client_context, limits=limits) if client_context else None
    try:
        async with build_async_client(timeout=10, transport=transport) as client:
            assert probes_cheaply(client._transport)
            first = await client.get(f"{scheme}://127.0.0.1:{port}/")
            await asyncio.wait_for(closed.wait(), 10)
            await asyncio.sleep(0.05)  # the FIN reaches the client's socket
            second = await client.get(f"{scheme}://127.0.0.1:{port}/")
    finally:
        server.close()
        await server.wait_closed()
    assert (first.text, second.text) == ("ok", "ok")
    assert connections == 2
