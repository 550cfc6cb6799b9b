"""`tinyseek index --ray` on a real local Ray cluster (`ray start --head` on loopback):
the same generation as a local build, and a driver killed mid-job resumes without
embedding the finished blocks again."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.test_indexer_support import make_products, write_jsonl
from tinyseek.indexer import build_catalog
from tinyseek.models.encoder import load_encoder
from tinyseek.search.engine import Engine
from tinyseek.search.layout import current_generation, read_manifest

pytest.importorskip("ray", reason="needs the ray extra: pip install 'tinyseek[ray]'")

QUERIES = ("oak chair", "cordless drill", "brass lamp", "blue rug", "vintage mirror")
ROWS = 20  # products per block: 300 products make 15 blocks


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("catalog") / "catalog.jsonl"
    write_jsonl(path, make_products(300))
    with path.open("a") as fh:
        fh.write('{"title": "no id"}\n')  # a reject, at the end: counted like a local build
    return path


def snapshot(index_dir: Path, encoder: object) -> tuple[list[str], np.ndarray, list[list[str]]]:
    engine = Engine.open(index_dir, encoder=encoder)  # type: ignore[arg-type]
    gen = engine.generation
    ids = [str(i) for i in gen.ordinal_ids]
    vectors = gen.dense.vectors(range(len(gen.dense)))
    tops = [
        [h.doc_id for h in engine.search(q, k=10, mode=m)]
        for q in QUERIES
        for m in ("bm25", "dense", "hybrid")
    ]
    return ids, vectors, tops


def assert_same(a: tuple, b: tuple) -> None:  # type: ignore[type-arg]
    assert a[0] == b[0]
    np.testing.assert_allclose(a[1], b[1], atol=1e-5)
    assert a[2] == b[2]


def test_ray_build_equals_local_build(
    tmp_path: Path, catalog: Path, ray_cluster: str, tiny: dict[str, object]
) -> None:
    from tinyseek.indexer.ray_embed import RayOptions

    encoder = load_encoder(Path(str(tiny["path"])), threads=1)
    local = build_catalog(catalog, tmp_path / "local", encoder, checkpoint_rows=ROWS)
    remote = build_catalog(
        catalog,
        tmp_path / "ray",
        encoder,
        checkpoint_rows=ROWS,
        ray=RayOptions(ray_cluster, workers=2, threads=1),
    )
    assert (remote.products, remote.rejected, remote.embedded) == (300, 1, 300)
    assert local.rejected == remote.rejected
    assert read_manifest(current_generation(tmp_path / "ray"))["build"]["shards"] == 15
    assert_same(snapshot(tmp_path / "local", encoder), snapshot(tmp_path / "ray", encoder))


def test_killed_driver_resumes_without_embedding_finished_blocks(
    tmp_path: Path, catalog: Path, ray_cluster: str, tiny: dict[str, object]
) -> None:
    artifact = Path(str(tiny["path"]))
    encoder = load_encoder(artifact, threads=1)
    build_catalog(catalog, tmp_path / "local", encoder, checkpoint_rows=ROWS)
    out = tmp_path / "ray"
    tinyseek = [sys.executable, "-m", "tinyseek.cli"]
    args = [
        "index", str(catalog), "--out", str(out), "--encoder", str(artifact), "--no-progress",
        "--checkpoint-every", str(ROWS), "--ray", ray_cluster, "--ray-workers", "1",
    ]  # fmt: skip
    env = {**os.environ, "TINYSEEK_FAILPOINT": "ray.encode_block:sleep=0.4"}
    driver = subprocess.Popen([*tinyseek, *args], env=env, stdout=subprocess.PIPE, text=True)
    progress = out / ".checkpoint" / "progress.json"
    deadline = time.monotonic() + 240
    recorded = 0
    while recorded < 7 and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.1)
        try:
            recorded = len(json.loads(progress.read_text())["shards"])
        except (OSError, ValueError, KeyError):
            continue
    assert driver.poll() is None, "the job ended before it could be killed"
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    time.sleep(3)  # the driver's actors die with it; let a block in flight land or vanish
    finished = len(list((out / ".checkpoint").glob("shard-*.npy")))
    assert 7 <= finished < 15 and not (out / "CURRENT").exists()
    # a shard file a worker left half-written never counts (it is renamed into place whole)
    (out / ".checkpoint" / "shard-000014.npy.tmp").write_bytes(b"\x93NUMPY junk")
    resumed = subprocess.run(
        [*tinyseek, *args, "--resume"], env=dict(os.environ), capture_output=True, text=True
    )
    assert resumed.returncode == 1, resumed.stderr[-2000:]  # 1: published, a row rejected
    embedded = int(resumed.stdout.split("(")[1].split()[0])
    assert embedded == (15 - finished) * ROWS  # finished blocks were not embedded again
    assert_same(snapshot(tmp_path / "local", encoder), snapshot(out, encoder))
    shutil.rmtree(out)


def test_missing_ray_extra_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], catalog: Path
) -> None:
    import tinyseek.extras as extras
    from tinyseek.cli import main

    real = extras.missing_modules
    monkeypatch.setattr(extras, "missing_modules", lambda *m: ["ray"] if "ray" in m else real(*m))
    code = main(["index", str(catalog), "--out", "/nonexistent/x", "--ray"])
    assert code == 2
    assert "pip install 'tinyseek[ray]'" in capsys.readouterr().err
