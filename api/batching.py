"""Dynamic micro-batching of concurrent query encodes.

Request threads hand their query to one encoder thread and wait. The encoder
thread takes whatever has queued up (up to `max_batch`) and encodes it as one
batch. There is no waiting window: a lone request is encoded at once (batch of
one, plus a thread hand-off of some tens of microseconds); batches only form
while the encoder is busy, which is exactly when they pay off, because a
transformer's per-call overhead is shared by the whole batch.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future

import numpy as np

from tinyseek.models.encoder import Encoder

Request = tuple[str, "Future[np.ndarray]"]


class MicroBatchingEncoder:
    """An `Encoder` whose `encode_queries` calls from many threads share batches."""

    def __init__(self, inner: Encoder, max_batch: int = 16) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.inner = inner
        self.max_batch = max_batch
        self.batches = 0
        self.encoded = 0
        self._queue: queue.SimpleQueue[Request | None] = queue.SimpleQueue()  # None: stop
        self._thread = threading.Thread(target=self._run, name="tinyseek-encoder", daemon=True)
        self._thread.start()

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        futures: list[Future[np.ndarray]] = []
        for text in texts:
            future: Future[np.ndarray] = Future()
            self._queue.put((text, future))
            futures.append(future)
        if not futures:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([f.result() for f in futures])

    def encode_documents(self, texts: Iterable[str], batch_size: int = 64) -> Iterator[np.ndarray]:
        return self.inner.encode_documents(texts, batch_size)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(item)
            texts = [text for text, _ in batch]
            futures = [future for _, future in batch]
            try:
                vectors = self.inner.encode_queries(texts)
            except BaseException as exc:  # hand the failure to every waiting request
                for future in futures:
                    future.set_exception(exc)
                continue
            self.batches += 1
            self.encoded += len(texts)
            for future, vector in zip(futures, vectors):
                future.set_result(vector)
