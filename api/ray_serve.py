"""`tinyseek serve INDEX_DIR --ray [ADDRESS]`: the same service as a Ray Serve deployment.

Each replica builds the very app `tinyseek serve` runs (`create_app`: the HTTP API, the
page, metrics, the background reload that moves to a newly published generation), so every
replica hot-reloads on its own. Requests reach the replicas through Ray Serve's HAProxy
mode (`SERVE_ENV`, on unless RAY_SERVE_ENABLE_HA_PROXY=0): HAProxy takes the HTTP port and
forwards each request straight to a replica's own HTTP server, past the Python proxy and
its handle call; autoscaling adds replicas (up to `max_replicas`) when the ongoing requests
per replica pass `target_ongoing`. The index directory must be readable by every node (a shared
volume, or `tinyseek pull-index` on each node first).

With a shard set (`--shards DIR`, cut by `tinyseek shard`), each part is its own Serve
application (`tinyseek-shard-I`, no HTTP route) holding that part's vectors, and the
replicas of the app search them through deployment handles (`search.shards.ShardedDense`):
every query fans out to the parts and their lists merge into the list the whole index gives.

Serve config files (`serve run CONFIG`, `serve deploy`, KubeRay's `serveConfigV2`) name the
application builders `app` and `shard_app` (`tinyseek.api.ray_serve:app`), their `args` the
`Settings` fields and `ServeOptions`' replica fields; `deploy/kuberay/` has the manifests.

Needs the `ray` extra: pip install 'tinyseek[ray]'.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI

from tinyseek.api.app import create_app
from tinyseek.api.settings import Settings
from tinyseek.extras import MissingExtraError
from tinyseek.search.shards import Pending, ShardedDense, ShardSet

log = logging.getLogger(__name__)

LOCAL = "local"
SHARD_APP = "tinyseek-shard-{}"
HA_PROXY = "RAY_SERVE_ENABLE_HA_PROXY"
SERVE_ENV = {
    HA_PROXY: "1",
    "RAY_SERVE_USE_GRPC_BY_DEFAULT": "1",
    "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
    "RAY_SERVE_REQUEST_PATH_LOG_BUFFER_SIZE": "1",
}
"""Ray Serve's throughput switches, each on unless the environment sets it: HAProxy in front
of replicas that serve HTTP themselves (Serve's Python proxy added about 10 ms a request on
Home Depot and gave out under 100 requests/s on 2 cores), gRPC for the calls between
deployments (a shard set's fan-out), and Serve's throughput bundle (user code and handle
routing on the replica's own loop, logs to files only, GC frozen after start: about 10% less
box CPU a request), but with its log buffer at Serve's usual 1 record: at the bundle's 1000 a
replica's log file stayed empty through a start that kept failing. Ray reads them in the
controller's and the replicas' environment (README, Scale)."""


@dataclass(frozen=True)
class ServeOptions:
    address: str = LOCAL
    """A Ray cluster address, or "local" to start one on this machine."""
    replicas: int = 2
    max_replicas: int = 4
    target_ongoing: float = 4.0
    """Ongoing requests per replica the autoscaler aims at."""
    cpus_per_replica: float = 1.0
    cpus_per_shard: float = 0.5
    host: str = "127.0.0.1"
    port: int = 8000


def _ray() -> Any:
    try:
        import ray
        from ray import serve  # noqa: F401  (its extra dependencies fail here when missing)
    except ImportError as exc:
        raise MissingExtraError(
            f"this needs the 'ray' extra ({exc}); install it with: pip install 'tinyseek[ray]'"
        ) from None
    return ray


class ShardReplica:
    """A Serve replica holding one part of a shard set (checked against its sha256)."""

    def __init__(self, folder: str, i: int) -> None:
        self.part = ShardSet.read(folder).load_part(i)

    def search(
        self, query: np.ndarray, n: int, bits: np.ndarray | None, size: int
    ) -> list[tuple[int, float]]:
        mask = None
        if bits is not None:
            mask = np.unpackbits(bits, count=size, bitorder="little").astype(bool)
        return self.part.hits(query, n, mask)

    def vectors(self, local: np.ndarray) -> np.ndarray:
        return self.part.index.vectors(local.tolist())


class RayPart:
    """A `search.shards.Part` served by a `ShardReplica` application (masks sent as bits)."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def search(self, query: np.ndarray, n: int, mask: np.ndarray | None) -> Pending:
        bits = None if mask is None else np.packbits(mask, bitorder="little")
        size = 0 if mask is None else len(mask)
        response: Pending = self.handle.search.remote(query, n, bits, size)
        return response

    def vectors(self, local: np.ndarray) -> Pending:
        response: Pending = self.handle.vectors.remote(local)
        return response


def ray_shards(folder: Path) -> ShardedDense:
    """The shard set whose parts run as `SHARD_APP` applications on this Serve instance."""
    from ray import serve

    shard_set = ShardSet.read(folder)
    handles = [serve.get_app_handle(SHARD_APP.format(i)) for i in range(len(shard_set.parts))]
    for handle in handles:
        # The fan-out is called from the service's threads (the load, the search threads),
        # where no event loop runs: its router gets a loop of its own. Left to Serve, its
        # throughput mode would put it on the replica's loop, and a handle so made cannot
        # be used off that loop ("No event loop running"; the app never loaded). Ray's own
        # LLM library sets this for its handles called from threads.
        handle._init(_run_router_in_separate_loop=True)
    return ShardedDense(shard_set, [RayPart(handle) for handle in handles])


def shard_deployments(
    folder: Path, options: ServeOptions, parts: list[int] | None = None
) -> list[Any]:
    """One bound application per part of the shard set at `folder` (or per part in `parts`)."""
    _ray()
    from ray import serve

    count = len(ShardSet.read(folder).parts)
    if parts is None:
        parts = list(range(count))
    elif any(not 0 <= i < count for i in parts):
        raise ValueError(f"{folder} has parts 0..{count - 1}, not {parts}")
    make: Any = serve.deployment
    return [
        make(
            ShardReplica,
            name=SHARD_APP.format(i),
            ray_actor_options={"num_cpus": options.cpus_per_shard},
            health_check_period_s=5,
        ).bind(str(folder), i)
        for i in parts
    ]


def log_to_replica_log() -> None:
    """Send the service's lines (its JSON access lines; loads, reloads, refusals) to the
    replica's Serve log, as Serve's own: a replica starts with Ray's logging, in which they
    went nowhere. (Not `logging.config`: it would close the handlers Serve set up.)"""
    ours = logging.getLogger("tinyseek")
    ours.setLevel(logging.INFO)
    ours.propagate = False
    for handler in logging.getLogger("ray.serve").handlers:
        if handler not in ours.handlers:
            ours.addHandler(handler)


def deployment(settings: Settings, options: ServeOptions) -> Any:
    """The bound Ray Serve application: replicas of the tinyseek app, autoscaled."""
    _ray()
    from ray import serve

    def build() -> FastAPI:  # a function: Serve calls it in each replica (a partial it would not)
        log_to_replica_log()
        return create_app(settings, open_shards=None if settings.shards is None else ray_shards)

    make: Any = serve.deployment
    return make(
        serve.ingress(build)(),
        name="tinyseek",
        autoscaling_config={
            "min_replicas": options.replicas,
            "initial_replicas": options.replicas,
            "max_replicas": max(options.max_replicas, options.replicas),
            "target_ongoing_requests": options.target_ongoing,
        },
        ray_actor_options={"num_cpus": options.cpus_per_replica},
        health_check_period_s=5,
        # the service writes its own JSON access lines (as under uvicorn): not Serve's too
        logging_config={"enable_access_log": False},
    ).bind()


REPLICA_OPTIONS = ("replicas", "max_replicas", "target_ongoing", "cpus_per_replica")


def app(args: dict[str, Any]) -> Any:
    """The tinyseek application for a Serve config file: `args` holds `Settings` fields
    (`index_dir`, `shards`, ...; the rest come from TINYSEEK_* variables) and any of
    `REPLICA_OPTIONS`. With `shards`, the config must also run each part as `shard_app`
    under the name `tinyseek-shard-I`."""
    args = dict(args)
    unknown = set(args) - set(Settings.model_fields) - set(REPLICA_OPTIONS)
    if unknown:
        raise ValueError(
            f"unknown tinyseek application args: {', '.join(sorted(unknown))} (expected "
            f"Settings fields or {', '.join(REPLICA_OPTIONS)})"
        )
    options = ServeOptions(**{k: args.pop(k) for k in REPLICA_OPTIONS if k in args})
    return deployment(Settings(**args), options)


def shard_app(args: dict[str, Any]) -> Any:
    """Part `part` of the shard set at `shards`, for a Serve config file (run it under the
    name `tinyseek-shard-<part>`; `cpus_per_shard` optional)."""
    missing = {"shards", "part"} - set(args)
    if missing:
        raise ValueError(f"shard_app needs args {', '.join(sorted(missing))}")
    options = ServeOptions(cpus_per_shard=float(args.get("cpus_per_shard", 0.5)))
    return shard_deployments(Path(args["shards"]), options, parts=[int(args["part"])])[0]


def serve_on_ray(settings: Settings, options: ServeOptions, blocking: bool = True) -> None:
    """Start (or join) a Ray cluster, deploy the app on it and keep serving."""
    serve_env = {name: os.environ.setdefault(name, on) for name, on in SERVE_ENV.items()}
    # (set before ray.serve is first imported: it reads them then)
    ray = _ray()
    from ray import serve

    if not ray.is_initialized():
        env = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **serve_env}
        for name, value in settings.model_dump(exclude_none=True).items():
            env[f"TINYSEEK_{name.upper()}"] = str(value)
        for name in ("TINYSEEK_HOME", "TINYSEEK_API_KEY"):
            if name in os.environ:
                env[name] = os.environ[name]
        kwargs: dict[str, Any] = {"log_to_driver": False, "runtime_env": {"env_vars": env}}
        if options.address == LOCAL:
            ray.init(include_dashboard=False, **kwargs)
        else:
            ray.init(address=options.address, **kwargs)
    serve.start(
        http_options={"host": options.host, "port": options.port},
        controller_options={"runtime_env": {"env_vars": serve_env}},
    )
    if settings.shards is not None:
        for i, part in enumerate(shard_deployments(settings.shards, options)):
            serve.run(part, name=SHARD_APP.format(i), route_prefix=None, blocking=False)
    serve.run(deployment(settings, options), name="tinyseek", route_prefix="/", blocking=False)
    log.info(
        "tinyseek on Ray Serve: http://%s:%d/ (%d-%d replicas)",
        options.host, options.port, options.replicas, options.max_replicas,
    )  # fmt: skip
    print(f"serving on Ray Serve at http://{options.host}:{options.port}/", flush=True)
    if blocking:
        import time

        while True:
            time.sleep(3600)
