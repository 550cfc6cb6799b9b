"""Service settings, read from the environment (prefix TINYSEEK_) or passed explicitly."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tinyseek.settings import encoder_threads

MAX_QUERY_CHARS = 512
MAX_K = 100
MAX_OFFSET = 1000
MAX_BATCH_DOCS = 1000


class Settings(BaseSettings):
    """Everything `create_app` needs. Environment: TINYSEEK_INDEX_DIR, TINYSEEK_API_KEY, ..."""

    model_config = SettingsConfigDict(env_prefix="TINYSEEK_", extra="ignore")

    index_dir: Path = Field(description="index directory (the one holding CURRENT)")
    api_key: str | None = Field(
        default=None,
        description="key required in X-API-Key for document writes; writes are disabled if unset",
    )
    encoder: str | None = Field(
        default=None,
        description="encoder spec; default: the one the index was built with",
    )
    shards: Path | None = Field(
        default=None,
        description="a shard set (`tinyseek shard`) holding the vectors: the service stays on "
        "the state it was cut from and refuses writes",
    )
    max_query_chars: int = Field(default=MAX_QUERY_CHARS, ge=1, le=10_000)
    max_k: int = Field(default=MAX_K, ge=1, le=1000)
    max_offset: int = Field(default=MAX_OFFSET, ge=0, le=100_000)
    max_body_bytes: int = Field(default=1 << 20, ge=1024, description="request body limit")
    max_batch_docs: int = Field(
        default=MAX_BATCH_DOCS, ge=1, description="products per upsert request"
    )
    cache_size: int = Field(default=4096, ge=0, description="query embedding LRU size; 0 = off")
    torch_threads: int = Field(
        default_factory=encoder_threads, ge=1, description="encoder intra-op threads (default 1)"
    )
    faiss_threads: int = Field(default=1, ge=1, description="FAISS OpenMP threads")
    request_threads: int = Field(
        default=4,
        ge=1,
        le=256,
        description="threads running searches (as many again run other blocking endpoints)",
    )
    micro_batch: int = Field(
        default=1,
        ge=1,
        le=256,
        description="max queries encoded together when requests overlap; 1 = no batching",
    )
    reload_interval: float = Field(
        default=0.5, ge=0, description="seconds between index generation checks; 0 = never"
    )
    write_lock_wait: float = Field(
        default=1.0,
        ge=0,
        description="seconds a write waits for another writer (a rebuild) before it is "
        "answered as durable but pending",
    )
    header_timeout: float = Field(
        default=10.0, gt=0, description="seconds a client has to send a request's headers"
    )
    body_timeout: float = Field(
        default=30.0, gt=0, description="seconds a client has to send a request's body"
    )
    keep_alive_timeout: float = Field(
        default=5.0, gt=0, description="seconds an idle keep-alive connection stays open"
    )
    max_header_bytes: int = Field(default=32 * 1024, ge=1024, description="request header limit")
    max_connections: int = Field(
        default=1000, ge=1, description="open connections; more are closed as they arrive"
    )
    access_log: bool = Field(default=True, description="JSON access log lines on tinyseek.access")
    queue_timeout: float = Field(
        default=1.0,
        ge=0,
        description="a search that waited this many seconds for a search thread is answered "
        "503 with Retry-After instead of run (overload sheds load, it does not queue it); 0 = off",
    )
    quality_interval: float = Field(
        default=0.0,
        ge=0,
        description="seconds between re-evaluations of the served generation on the index's "
        "reference labels (rolls a bad build back, raises the alarm for writes); 0 = off",
    )
