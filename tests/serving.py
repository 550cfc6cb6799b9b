"""A real `tinyseek serve` process with the hashing test encoder, for subprocess tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import REPO


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    base: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))


@contextmanager
def serve(
    index: Path, log: Path, env: Mapping[str, str] | None = None, ready: bool = True
) -> Iterator[Server]:
    """Start the server on a free port; yields once it is ready (or, unless `ready`, once
    it has refused the index)."""
    port = free_port()
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TINYSEEK_RELOAD_INTERVAL": "0.2"}
    full_env.pop("TINYSEEK_FAILPOINT", None)
    full_env.update(env or {})
    command = [sys.executable, "-m", "tests.hashing_cli", "serve", str(index), "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "--no-access-log"], cwd=REPO, env=full_env, stdout=out, stderr=out
        )
    server = Server(f"http://127.0.0.1:{port}", port, proc, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited {proc.returncode}: {log.read_text()[-3000:]}")
            try:
                response = httpx.get(f"{server.base}/readyz", timeout=2)
                if response.status_code == 200:
                    break
                if not ready and response.json().get("status") == "failed":
                    break  # loaded, and refused
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server not ready: {log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
