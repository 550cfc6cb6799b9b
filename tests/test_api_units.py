"""Service pieces that need no server: settings, micro-batching, the body limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from tinyseek.api.batching import MicroBatchingEncoder
from tinyseek.api.settings import Settings


class SlowFakeEncoder:
    """Deterministic vectors; a fixed cost per call, so batching is visible."""

    name = "fake"
    dim = 4

    def __init__(self) -> None:
        self.calls: list[int] = []

    def vector(self, text: str) -> np.ndarray:
        v = np.array([len(text), sum(map(ord, text)) % 97, 1.0, text.count("a")], np.float32)
        return v / np.linalg.norm(v)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        time.sleep(0.02)
        return np.stack([self.vector(t) for t in texts])

    def encode_documents(self, texts: Iterable[str], batch_size: int = 64) -> Iterator[np.ndarray]:
        yield self.encode_queries(list(texts))


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TINYSEEK_INDEX_DIR", str(tmp_path))
    monkeypatch.setenv("TINYSEEK_API_KEY", "k")
    monkeypatch.setenv("TINYSEEK_CACHE_SIZE", "0")
    monkeypatch.setenv("TINYSEEK_RELOAD_INTERVAL", "0.75")
    settings = Settings()  # type: ignore[call-arg]
    assert settings.index_dir == tmp_path and settings.api_key == "k"
    assert settings.cache_size == 0 and settings.reload_interval == 0.75
    assert (settings.max_query_chars, settings.max_k, settings.max_offset) == (512, 100, 1000)
    monkeypatch.setenv("TINYSEEK_CACHE_SIZE", "-1")
    with pytest.raises(ValueError, match="cache_size"):
        Settings()  # type: ignore[call-arg]


def test_micro_batching_returns_each_callers_vector_and_batches_under_load() -> None:
    inner = SlowFakeEncoder()
    encoder = MicroBatchingEncoder(inner, max_batch=8)
    try:
        texts = [f"query {'a' * i}" for i in range(16)]
        results: dict[str, np.ndarray] = {}

        def ask(text: str) -> None:
            results[text] = encoder.encode_queries([text])[0]

        threads = [threading.Thread(target=ask, args=(t,)) for t in texts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for text in texts:
            np.testing.assert_allclose(results[text], inner.vector(text))
        assert sum(inner.calls) == 16
        assert max(inner.calls) > 1 and len(inner.calls) < 16
        assert all(n <= 8 for n in inner.calls)
        both = encoder.encode_queries(["x", "ya"])
        np.testing.assert_allclose(both, np.stack([inner.vector("x"), inner.vector("ya")]))
        assert encoder.name == "fake" and encoder.dim == 4
    finally:
        encoder.close()


def test_micro_batching_hands_errors_to_every_waiter() -> None:
    class Broken(SlowFakeEncoder):
        def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
            raise RuntimeError("encoder down")

    encoder = MicroBatchingEncoder(Broken(), max_batch=4)
    try:
        with pytest.raises(RuntimeError, match="encoder down"):
            encoder.encode_queries(["a"])
    finally:
        encoder.close()
