"""`tinyseek serve DIR --ray ADDRESS`: the service as a Ray Serve deployment with 2 replicas
on a real local cluster: the same API and page as `tinyseek serve`, the same results as the
library, and a newly published generation reaches every replica."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.ray_cluster import free_port
from tests.test_indexer_support import make_products
from tinyseek.indexer import build_index
from tinyseek.models.encoder import load_encoder
from tinyseek.search.engine import Engine
from tinyseek.search.types import Product

pytest.importorskip("ray.serve", reason="needs the ray extra: pip install 'tinyseek[ray]'")

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
QUERIES = ("oak chair", "cordless drill", "brass lamp", "blue rug")


def on_cluster(address: str, code: str) -> str:
    """Run `code` in a fresh process connected to the cluster (this one stays unconnected, so
    later tests can connect their own way); returns what it printed."""
    script = (
        "import ray; from ray import serve; "
        f"ray.init(address={address!r}, log_to_driver=False); {code}"
    )
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def get(url: str, timeout: float = 10) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read()
            kind = response.headers.get("content-type", "")
            return response.status, json.loads(body) if "json" in kind else body.decode()
    except urllib.error.HTTPError as exc:
        return exc.code, None


def listeners(port: int) -> set[str]:
    """The names of the processes holding the socket listening on TCP `port` on this machine
    (from /proc; a socket can be held by several, e.g. a process that inherited it)."""
    sockets = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
                sockets.add(f"socket:[{fields[9]}]")
    names = set()
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if os.readlink(fd) in sockets:
                names.add((fd.parent.parent / "comm").read_text().strip())
        except OSError:  # a process or descriptor that went away meanwhile
            continue
    return names


@pytest.fixture()
def served(
    tmp_path: Path, ray_cluster: str, tiny: dict[str, object]
) -> Iterator[tuple[str, Path, Any, str]]:
    encoder = load_encoder(Path(str(tiny["path"])), threads=1)
    index = tmp_path / "index"
    build_index(make_products(200), index, encoder)  # the artifact is bundled in the index
    with ray_served(index, ray_cluster, "--replicas", "2") as base:
        yield base, index, encoder, ray_cluster


@contextmanager
def ray_served(index: Path, address: str, *options: str, **env: str) -> Iterator[str]:
    """`tinyseek serve INDEX --ray ADDRESS OPTIONS...` until /readyz says 200: its URL."""
    port = free_port()
    command = [
        sys.executable, "-m", "tinyseek.cli", "serve", str(index), "--ray", address,
        "--port", str(port), "--cache-size", "0", *options,
    ]  # fmt: skip
    with serve_driver(command, port, address, **env) as base:
        yield base


@contextmanager
def serve_driver(command: list[str], port: int, address: str, **env: str) -> Iterator[str]:
    """Run a driver that deploys on the cluster's Serve until /readyz on `port` says 200: its
    URL; at the end the driver is killed and Serve shut down (replicas, proxy, controller)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAY_AUTH_MODE": "disabled", **env}
    driver = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if driver.poll() is not None:
                raise RuntimeError(driver.stderr.read().decode()[-3000:] if driver.stderr else "")
            try:
                if get(f"{base}/readyz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("Ray Serve deployment was not ready in time")
            time.sleep(1)
        yield base
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
        on_cluster(address, "serve.shutdown()")


def replica_log_lines(base: Path) -> list[str]:
    """Every line of the tinyseek replicas' Serve logs on the test clusters under `base`."""
    logs = base.glob("ray*/session_latest/logs/serve/replica_tinyseek_tinyseek_*.log")
    return [line for log in logs for line in log.read_text().splitlines()]


def test_two_replicas_answer_like_the_library_and_reload(
    served: tuple[str, Path, Any, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    base, index, encoder, address = served
    running = on_cluster(
        address,
        "d = serve.status().applications['tinyseek'].deployments['tinyseek']; "
        "print(d.replica_states.get('RUNNING'))",
    )
    assert running == "2"
    # HAProxy holds the port and forwards to the replicas' own HTTP servers (not Serve's
    # Python proxy)
    held_by = listeners(int(urllib.parse.urlsplit(base).port or 0))
    assert "haproxy" in held_by and "ray::ProxyActor" not in held_by, held_by
    engine = Engine.open(index, encoder=encoder)
    for query in QUERIES:
        for mode in ("bm25", "dense", "hybrid"):
            code, body = get(f"{base}/search?q={urllib.parse.quote(query)}&k=10&mode={mode}")
            assert code == 200
            assert [h["id"] for h in body["hits"]] == [
                h.doc_id for h in engine.search(query, k=10, mode=mode)
            ]
    code, page = get(f"{base}/")
    assert code == 200 and "<html" in page
    assert get(f"{base}/healthz")[0] == 200
    # a new generation is published: every replica moves to it by itself
    new = Product(id="NEW-1", title="Quixotic zebra-striped garden gnome lantern")
    build_index([*make_products(200), new], index, encoder)
    deadline = time.monotonic() + 60
    seen = 0
    while seen < 20 and time.monotonic() < deadline:  # 20 answers in a row, any replica
        code, body = get(f"{base}/search?q=zebra+gnome+lantern&k=1&mode=bm25")
        seen = seen + 1 if code == 200 and body["hits"] and body["hits"][0]["id"] == "NEW-1" else 0
        time.sleep(0.1)
    assert seen == 20
    # the service's own lines reach the replicas' Serve logs: access lines, the reload
    lines = replica_log_lines(tmp_path_factory.getbasetemp())
    assert any('"path":"/search","endpoint":"/search","status":200' in line for line in lines)
    assert any("serving generation" in line for line in lines)


def test_shards_as_serve_applications_answer_like_the_whole_index(
    tmp_path: Path, ray_cluster: str, tiny: dict[str, object]
) -> None:
    """`--shards`: each part its own application; pages equal the whole index's, writes
    refused (the set is pinned to the state it was cut from)."""
    from tinyseek.indexer.shards import cut_shards

    encoder = load_encoder(Path(str(tiny["path"])), threads=1)
    index = tmp_path / "index"
    build_index(make_products(300), index, encoder)
    cut_shards(index, tmp_path / "shards", 2)
    shards = ("--shards", str(tmp_path / "shards"), "--replicas", "1")
    with ray_served(index, ray_cluster, *shards, TINYSEEK_API_KEY="k") as base:
        status = on_cluster(
            ray_cluster,
            "a = serve.status().applications; "
            "print(sorted(n for n in a if n.startswith('tinyseek-shard-') "
            "and str(a[n].status).endswith('RUNNING')))",
        )
        assert status == "['tinyseek-shard-0', 'tinyseek-shard-1']"
        whole = Engine.open(index, encoder=encoder, cache_size=0)
        for query in (*QUERIES, "teak table", "lamp"):
            for mode in ("bm25", "dense", "hybrid"):
                for extra in ("", "&brand=Cobalt"):
                    url = f"{base}/search?q={urllib.parse.quote(query)}&k=10&mode={mode}{extra}"
                    code, body = get(url)
                    assert code == 200, body
                    filters = {"brand": "Cobalt"} if extra else None
                    page = whole.search_page(query, k=10, mode=mode, filters=filters)
                    assert body["total"] == page.total
                    assert [(h["id"], round(h["score"], 9)) for h in body["hits"]] == [
                        (h.doc_id, round(h.score, 9)) for h in page.hits
                    ], (query, mode, extra)
        request = urllib.request.Request(
            f"{base}/documents",
            data=json.dumps({"products": [{"id": "N1", "title": "New lamp"}]}).encode(),
            headers={"Content-Type": "application/json", "X-API-Key": "k"},
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 409
        assert "tinyseek shard" in refused.value.read().decode()


def test_the_rayservice_serve_config_runs_the_sharded_service(
    tmp_path: Path, ray_cluster: str, tiny: dict[str, object]
) -> None:
    """deploy/kuberay/rayservice.yaml's Serve config (what KubeRay hands to Serve), pointed at
    a test index plus a 2-part shard set, deployed with `serve run CONFIG`: the application
    builders start the service and the parts, and pages equal the whole index's."""
    yaml = pytest.importorskip("yaml", reason="the deploy extra")

    from tinyseek.indexer.shards import cut_shards

    encoder = load_encoder(Path(str(tiny["path"])), threads=1)
    index = tmp_path / "index"
    build_index(make_products(300), index, encoder)
    cut_shards(index, tmp_path / "shards", 2)
    manifest = next(yaml.safe_load_all((DEPLOY / "kuberay" / "rayservice.yaml").read_text()))
    config = yaml.safe_load(manifest["spec"]["serveConfigV2"])
    port = free_port()
    config["http_options"] = {"host": "127.0.0.1", "port": port}
    (app,) = config["applications"]
    app["args"].update(index_dir=str(index), shards=str(tmp_path / "shards"), cache_size=0)
    app["args"].update(replicas=1, max_replicas=1)
    parts = [
        {
            "name": f"tinyseek-shard-{i}",
            "route_prefix": None,
            "import_path": "tinyseek.api.ray_serve:shard_app",
            "args": {"shards": str(tmp_path / "shards"), "part": i},
        }
        for i in range(2)
    ]
    config["applications"] = [*parts, app]
    path = tmp_path / "serve.yaml"
    path.write_text(yaml.safe_dump(config))
    serve_bin = Path(sys.executable).with_name("serve")
    command = [str(serve_bin), "run", "--address", ray_cluster, str(path)]
    with serve_driver(command, port, ray_cluster) as base:
        whole = Engine.open(index, encoder=encoder, cache_size=0)
        for query in QUERIES:
            for mode in ("bm25", "dense", "hybrid"):
                code, body = get(f"{base}/search?q={urllib.parse.quote(query)}&k=10&mode={mode}")
                assert code == 200, body
                page = whole.search_page(query, k=10, mode=mode)
                assert body["total"] == page.total
                assert [h["id"] for h in body["hits"]] == [h.doc_id for h in page.hits]


def test_application_builders_refuse_unknown_args(tmp_path: Path) -> None:
    from tinyseek.api.ray_serve import app, shard_app

    with pytest.raises(ValueError, match="unknown tinyseek application args: replica"):
        app({"index_dir": str(tmp_path), "replica": 2})
    with pytest.raises(ValueError, match="needs args part"):
        shard_app({"shards": str(tmp_path)})
