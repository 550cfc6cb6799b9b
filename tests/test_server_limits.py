"""Slow clients are dropped and connections are capped (raw sockets against a real server)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.serving import Server, serve
from tests.test_indexer_support import HashingEncoder, make_products
from tinyseek.indexer import build_index

LIMITS = {
    "TINYSEEK_HEADER_TIMEOUT": "1",
    "TINYSEEK_BODY_TIMEOUT": "1",
    "TINYSEEK_KEEP_ALIVE_TIMEOUT": "1",
    "TINYSEEK_MAX_CONNECTIONS": "20",
    "TINYSEEK_MAX_HEADER_BYTES": "4096",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("limits")
    build_index(make_products(30), root / "idx", HashingEncoder())
    with serve(root / "idx", root / "serve.log", LIMITS) as running:
        yield running


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock


def read_until_closed(sock: socket.socket, limit: float = 5.0) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    started = time.monotonic()
    sock.settimeout(limit)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data, time.monotonic() - started


def test_a_silent_connection_is_dropped(server: Server) -> None:
    with connect(server) as sock:
        data, seconds = read_until_closed(sock)
    assert seconds < 3 and (data == b"" or data.startswith(b"HTTP/1.1 408"))


def test_headers_sent_too_slowly_get_408(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        data, seconds = read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 408") and seconds < 3


def test_a_body_sent_too_slowly_gets_408(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"POST /search HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
            b"content-length: 100\r\n\r\n" + b'{"q": "oak'
        )
        data, seconds = read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 408") and seconds < 3


def test_oversized_headers_get_431(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8192)
        data, _ = read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 431")


def test_an_idle_keep_alive_connection_is_closed(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data, seconds = read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 200") and seconds < 3


def test_connections_beyond_the_cap_are_refused_and_slow_ones_freed(server: Server) -> None:
    baseline = server.open_fds()
    socks = [connect(server) for _ in range(40)]
    try:
        for sock in socks:
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # slow: headers never finish
        time.sleep(0.3)
        assert server.open_fds() <= baseline + 20 + 2  # the cap holds
        closed = 0
        for sock in socks:
            data, _ = read_until_closed(sock, limit=4)
            closed += 1
            assert data == b"" or data.startswith(b"HTTP/1.1 408")
        assert closed == 40
    finally:
        for sock in socks:
            sock.close()
    deadline = time.monotonic() + 5
    while server.open_fds() > baseline + 1:  # every slow client's socket is gone
        assert time.monotonic() < deadline, f"{server.open_fds()} fds vs {baseline}"
        time.sleep(0.1)
    assert httpx.get(f"{server.base}/search", params={"q": "oak chair"}).status_code == 200


def test_an_overloaded_server_sheds_searches_that_waited_too_long(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """One search thread, 60 searches at once, 20 ms allowed in the queue: the late ones get
    503 + Retry-After unrun (and are counted), the rest are answered; a lone search never."""
    from concurrent.futures import ThreadPoolExecutor

    root = tmp_path_factory.mktemp("shed")
    build_index(make_products(2000), root / "idx", HashingEncoder())
    env = {"TINYSEEK_REQUEST_THREADS": "1", "TINYSEEK_QUEUE_TIMEOUT": "0.02"}
    with serve(root / "idx", root / "serve.log", env) as running:
        for _ in range(20):  # one at a time: never shed
            assert httpx.get(f"{running.base}/search?q=oak+chair", timeout=10).status_code == 200

        def search(i: int) -> httpx.Response:
            with httpx.Client(timeout=30) as client:
                return client.get(f"{running.base}/search", params={"q": f"oak chair {i}"})

        with ThreadPoolExecutor(60) as pool:
            responses = list(pool.map(search, range(60)))
        shed = [r for r in responses if r.status_code == 503]
        answered = [r for r in responses if r.status_code == 200]
        assert len(shed) + len(answered) == 60
        assert shed and answered
        assert all(r.headers["retry-after"] == "1" for r in shed)
        assert all(r.json()["detail"].startswith("overloaded: this search waited") for r in shed)
        assert all(r.json()["hits"] for r in answered)
        metrics = httpx.get(f"{running.base}/metrics", timeout=10).text
        assert f"tinyseek_searches_shed_total {float(len(shed))}" in metrics
