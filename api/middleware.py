"""Pure ASGI middleware: body size limit, request metrics, JSON access logs, and the last
line of defence: an exception no endpoint handled becomes 503 with its reason, never 500.

Written against raw ASGI rather than `BaseHTTPMiddleware`, which costs a task and
a memory stream per request.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tinyseek.errors import describe

if TYPE_CHECKING:
    from tinyseek.api.app import Service

access_log = logging.getLogger("tinyseek.access")
log = logging.getLogger(__name__)

ARRIVED = "tinyseek.arrived"
"""Scope key: `time.perf_counter()` when the request reached the service (for load shedding)."""


class ServiceMiddleware:
    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        scope[ARRIVED] = started
        limit = self.service.settings.max_body_bytes
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
            await send(message)

        declared = _content_length(scope)
        if declared is not None and declared > limit:
            # Refused from the header alone, before any of the body is read or parsed.
            await _send_413(send_wrapper, declared, limit)
        else:
            received = 0

            async def receive_limited() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        # FastAPI re-raises HTTPExceptions from body reading as they are.
                        raise HTTPException(413, _too_large(received, limit))
                return message

            try:
                await self.app(scope, receive_limited, send_wrapper)
            except Exception as exc:
                if response_started:
                    raise
                log.error("unexpected error on %s %s", scope["method"], scope["path"], exc_info=exc)
                await _send_json(
                    send_wrapper, 503, {"detail": f"the service failed: {describe(exc)}"}
                )
            finally:
                self._record(scope, status, time.perf_counter() - started)
            return
        self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        endpoint = getattr(route, "path", None) or _mount(scope) or "unmatched"
        metrics = self.service.metrics
        metrics.requests.labels(endpoint, scope["method"], str(status)).inc()
        state: dict[str, Any] = scope.get("state") or {}
        mode = state.get("search_mode")
        if mode is not None and status < 400:
            metrics.search_latency.labels(mode).observe(seconds)
        if self.service.settings.access_log and access_log.isEnabledFor(logging.INFO):
            client = scope.get("client")
            access_log.info(
                orjson.dumps(
                    {
                        "ts": round(time.time(), 3),
                        "method": scope["method"],
                        "path": scope["path"],
                        "endpoint": endpoint,
                        "status": status,
                        "ms": round(seconds * 1000, 3),
                        "mode": mode,
                        "client": client[0] if client else None,
                    }
                ).decode()
            )


def _mount(scope: Scope) -> str | None:
    """The mount point (e.g. /static) of a request a mounted app answered."""
    root: str = scope.get("app_root_path") or scope.get("root_path") or ""
    return root or None


def _too_large(size: int, limit: int) -> str:
    return f"request body is {size} bytes or more; the limit is {limit} bytes"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_413(send: Send, size: int, limit: int) -> None:
    await _send_json(send, 413, {"detail": _too_large(size, limit)})


async def _send_json(send: Send, status: int, content: dict[str, Any]) -> None:
    body = orjson.dumps(content)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    if status == 503:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
