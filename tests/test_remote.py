"""Index directories in object storage, against a real S3-compatible server on loopback
(moto's server mode), through fsspec/s3fs: push, pull, verify, serve."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_indexer_support import HashingEncoder, make_products
from tinyseek.indexer import build_index
from tinyseek.indexer.remote import pull_index, push_index
from tinyseek.search.engine import Engine
from tinyseek.search.layout import CorruptGenerationError, current_generation

pytest.importorskip("s3fs", reason="needs the s3 extra: pip install 'tinyseek[s3]'")
moto_server = pytest.importorskip("moto.server", reason="needs moto[server] (the deploy extra)")


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    options = {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{port}", "region_name": "us-east-1"},
    }
    import boto3

    boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket="tinyseek-indexes")
    try:
        yield options
    finally:
        server.stop()


def search(index_dir: Path) -> list[list[str]]:
    engine = Engine.open(index_dir, encoder=HashingEncoder())
    return [
        [h.doc_id for h in engine.search(q, k=5, mode=m)]
        for q in ("oak chair", "brass lamp")
        for m in ("bm25", "dense", "hybrid")
    ]


def test_push_then_pull_serves_the_same_index(tmp_path: Path, s3: dict) -> None:  # type: ignore[type-arg]
    source = tmp_path / "source"
    build_index(make_products(120), source, HashingEncoder())
    url = "s3://tinyseek-indexes/shop"
    pushed = push_index(source, url, s3)
    assert pushed.files >= 4 and pushed.bytes > 0
    replica = tmp_path / "replica"
    pulled = pull_index(url, replica, s3)
    assert (pulled.generation, pulled.skipped) == (pushed.generation, False)
    assert current_generation(replica).name == pushed.generation
    assert search(replica) == search(source)
    # an init container run again downloads nothing
    assert pull_index(url, replica, s3).skipped
    # a new generation on the source replaces the replica's on the next pull
    build_index(make_products(150), source, HashingEncoder())
    second = push_index(source, url, s3)
    assert second.generation != pushed.generation
    assert pull_index(url, replica, s3).generation == second.generation
    assert search(replica) == search(source)


def test_a_damaged_remote_generation_is_refused_and_the_old_one_kept(
    tmp_path: Path,
    s3: dict,  # type: ignore[type-arg]
) -> None:
    import s3fs

    source = tmp_path / "source"
    build_index(make_products(80), source, HashingEncoder())
    url = "s3://tinyseek-indexes/damaged"
    first = push_index(source, url, s3)
    replica = tmp_path / "replica"
    pull_index(url, replica, s3)
    build_index(make_products(90), source, HashingEncoder())
    second = push_index(source, url, s3)
    fs = s3fs.S3FileSystem(**s3)
    fs.pipe_file(f"tinyseek-indexes/damaged/{second.generation}/dense.faiss", b"not faiss")
    with pytest.raises(CorruptGenerationError, match=second.generation):
        pull_index(url, replica, s3)
    assert current_generation(replica).name == first.generation  # still served, whole
    assert not list(replica.glob(".tmp-pull-*"))
    with pytest.raises(FileNotFoundError, match="no CURRENT"):
        pull_index("s3://tinyseek-indexes/nothing-here", tmp_path / "empty", s3)


def test_local_paths_work_through_the_same_code(tmp_path: Path) -> None:
    source = tmp_path / "source"
    build_index(make_products(60), source, HashingEncoder())
    push_index(source, f"file://{tmp_path / 'bucket'}")
    pull_index(str(tmp_path / "bucket"), tmp_path / "replica")
    assert search(tmp_path / "replica") == search(source)
