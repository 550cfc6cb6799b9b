"""The HTTP server's own limits: slow clients are dropped, connections are capped.

uvicorn times out idle keep-alive connections, but not a client that opens a connection
and sends nothing, sends its headers a byte at a time, or never finishes its body: each
such client would hold a socket forever. `GuardedHttpProtocol` (uvicorn's httptools
protocol plus timers) gives every request `header_timeout` seconds from its first byte
(or from the connection) to its last header and `body_timeout` seconds more for its body,
caps the header bytes, and closes connections beyond `max_connections` as they arrive.
A request that runs out of time gets 408 (431 for oversized headers) and the connection
is closed. The limits come from the service settings (`api.settings.Settings`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


@dataclass(frozen=True)
class ServerLimits:
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_header_bytes: int = 32 * 1024
    max_connections: int = 1000


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol with header and body deadlines and a connection cap."""

    limits: ClassVar[ServerLimits] = ServerLimits()

    @classmethod
    def configure(cls, limits: ServerLimits) -> None:
        """Set the limits of every connection accepted from now on (by this process)."""
        cls.limits = limits

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._reading_headers = False
        self._header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            transport.abort()  # at the cap: refuse before anything is read
            return
        self._expect_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._reading_headers and not self.transport.is_closing():
            # still inside the headers after this chunk: all of it counts
            self._header_bytes += len(data)
            if self._header_bytes > self.limits.max_header_bytes:
                self._refuse(431, "request headers are too large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._expect_request()

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._set_deadline(self.limits.body_timeout, "the request body was not received in time")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._cancel_deadline()
        super().on_message_complete()

    def _expect_request(self) -> None:
        if not self._reading_headers:
            self._reading_headers = True
            self._header_bytes = 0
            self._set_deadline(
                self.limits.header_timeout, "the request headers were not received in time"
            )

    def _set_deadline(self, seconds: float, reason: str) -> None:
        self._cancel_deadline()
        self._deadline = self.loop.call_later(seconds, self._refuse, 408, reason)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _refuse(self, status: int, reason: str) -> None:
        """Answer `status` unless a response already started, and close the connection."""
        self._cancel_deadline()
        if self.transport.is_closing():
            return
        cycle = self.cycle
        responding = cycle is not None and cycle.response_started and not cycle.response_complete
        if not responding:
            body = orjson.dumps({"detail": reason})
            phrase = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}[status]
            self.transport.write(
                b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                % (status, phrase, len(body), body)
            )
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.close()
