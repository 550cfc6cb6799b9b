"""`tinyseek serve` and `tinyseek demo`: run the HTTP service with uvicorn.

Heavy imports (FAISS, ONNX Runtime, FastAPI) happen inside the commands, after the
thread environment is set: OpenMP and MKL read OMP_NUM_THREADS once, at load.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

from tinyseek.errors import exit_codes_help
from tinyseek.settings import encoder_threads, home_dir, pin_thread_pools

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser(
        "serve",
        help="serve an index over HTTP (search, documents, metrics, page)",
        description="Serve INDEX_DIR. Other settings come from TINYSEEK_* environment "
        "variables (TINYSEEK_API_KEY enables document writes; see api/settings.py).",
        epilog=exit_codes_help((0, 2, 8), {0: "stopped (Ctrl-C or SIGTERM)"}),
    )
    serve.add_argument("index_dir", help="index directory (built by `tinyseek index`)")
    _server_options(serve)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="serve as a Ray Serve deployment (pip install 'tinyseek[ray]') on the cluster at "
        "ADDRESS, or on one started here; every replica reloads new generations itself",
    )
    serve.add_argument(
        "--shards",
        type=Path,
        default=None,
        metavar="DIR",
        help="serve the vectors from a shard set (`tinyseek shard`): with --ray each part is "
        "its own Ray Serve application, else the parts load here; the service stays on the "
        "state the set was cut from and refuses writes",
    )
    serve.add_argument("--replicas", type=int, default=2, help="Ray Serve replicas (min)")
    serve.add_argument("--max-replicas", type=int, default=4, help="Ray Serve autoscaling max")
    serve.add_argument(
        "--target-ongoing",
        type=float,
        default=4.0,
        help="ongoing requests per replica the Ray Serve autoscaler aims at",
    )
    serve.set_defaults(func=run_serve)

    demo = sub.add_parser(
        "demo",
        help="index the bundled sample catalog (once) and serve it with the search page",
        epilog=exit_codes_help(
            (0, 2, 3, 6, 8),
            {0: "stopped (Ctrl-C or SIGTERM)", 3: "the catalog has no valid products"},
        ),
    )
    _server_options(demo)
    demo.add_argument("--encoder", default=None, help="encoder spec (default: the default one)")
    demo.add_argument(
        "--catalog", default=None, help="catalog to index (default: the packaged sample catalog)"
    )
    demo.add_argument("--rebuild", action="store_true", help="rebuild the demo index")
    demo.add_argument(
        "--currency",
        metavar="CODE",
        help="ISO code of the catalog's prices (default: what its prices say; USD for the "
        "packaged sample)",
    )
    demo.set_defaults(func=run_demo)


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--cache-size", type=int, default=None, help="query cache size; 0 = off")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch and FAISS threads per worker (default 1)"
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    parser.add_argument("--no-access-log", action="store_true", help="no JSON access log lines")
    parser.add_argument(
        "--quality-interval",
        type=float,
        default=None,
        metavar="SECONDS",
        help="re-evaluate the served generation on the index's reference labels this often "
        "(tinyseek labels attach): roll back a bad build, raise the alarm for writes; "
        "default 0 = off (TINYSEEK_QUALITY_INTERVAL)",
    )


def _pin_threads(threads: int) -> None:
    """Set before torch / FAISS are imported; a later change would not reach OpenMP."""
    pin_thread_pools(threads)
    # faiss's pool is also set by faiss.omp_set_num_threads at startup; torch (the TorchScript
    # or teacher backends) must not be loaded yet.
    if "torch" in sys.modules:
        log.warning("torch already imported; OMP_NUM_THREADS may not apply")


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging plus the service's: access lines are bare JSON on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            "json_line": {"format": "%(message)s"},
        },
        "handlers": {
            "plain": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "stream": "ext://sys.stderr",
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "json_line",
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["plain"], "level": level.upper(), "propagate": False},
            "tinyseek": {"handlers": ["plain"], "level": level.upper(), "propagate": False},
            "tinyseek.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }


def serve(
    index_dir: Path, args: argparse.Namespace, encoder: str | None = None, pinned: bool = False
) -> int:
    if not pinned:
        _pin_threads(args.threads or encoder_threads())
    import uvicorn

    from tinyseek.api.settings import Settings

    overrides: dict[str, Any] = {"index_dir": index_dir}
    if args.cache_size is not None:
        overrides["cache_size"] = args.cache_size
    if args.threads is not None:
        overrides["torch_threads"] = overrides["faiss_threads"] = args.threads
    if encoder is not None:
        overrides["encoder"] = encoder
    if args.no_access_log:
        overrides["access_log"] = False
    if args.quality_interval is not None:
        overrides["quality_interval"] = args.quality_interval
    if getattr(args, "shards", None) is not None:
        overrides["shards"] = args.shards
    settings = Settings(**overrides)
    from tinyseek.api.server import GuardedHttpProtocol

    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_config": log_config(args.log_level),
        "access_log": False,  # the service writes its own JSON access lines
        "timeout_graceful_shutdown": 5,
        "http": GuardedHttpProtocol,  # header/body deadlines and the connection cap
        "timeout_keep_alive": settings.keep_alive_timeout,
        "limit_concurrency": settings.max_connections,
    }
    workers = getattr(args, "workers", 1)
    if workers > 1:
        # Each worker process builds its own app from the environment.
        for name, value in settings.model_dump(exclude_none=True).items():
            os.environ[f"TINYSEEK_{name.upper()}"] = str(value)
        uvicorn.run("tinyseek.api.app:create_app_from_env", factory=True, workers=workers, **common)
        return 0
    from tinyseek.api.app import create_app

    uvicorn.run(create_app(settings), **common)
    return 0


def run_serve(args: argparse.Namespace) -> int:
    index_dir = Path(args.index_dir)
    if not (index_dir / "CURRENT").is_file():
        raise FileNotFoundError(
            f"{index_dir} is not a tinyseek index (no CURRENT); build one with "
            f"`tinyseek index CATALOG.jsonl --out {index_dir}`"
        )
    if args.ray is not None:
        return serve_ray(index_dir, args)
    return serve(index_dir, args)


def serve_ray(index_dir: Path, args: argparse.Namespace) -> int:
    from tinyseek.api.ray_serve import ServeOptions, serve_on_ray
    from tinyseek.api.settings import Settings

    if args.replicas < 1 or args.max_replicas < args.replicas:
        raise ValueError("need 1 <= --replicas <= --max-replicas")
    overrides: dict[str, Any] = {"index_dir": index_dir}
    if args.cache_size is not None:
        overrides["cache_size"] = args.cache_size
    if args.threads is not None:
        overrides["torch_threads"] = overrides["faiss_threads"] = args.threads
    if args.no_access_log:
        overrides["access_log"] = False
    if args.shards is not None:
        overrides["shards"] = args.shards
    options = ServeOptions(
        address=args.ray,
        replicas=args.replicas,
        max_replicas=args.max_replicas,
        target_ongoing=args.target_ongoing,
        cpus_per_replica=float(args.threads or 1),
        host=args.host,
        port=args.port,
    )
    serve_on_ray(Settings(**overrides), options)
    return 0


SAMPLE_CURRENCY = "USD"
"""The packaged sample catalog's prices are US dollars (sample_data/README.md)."""


def demo_currency(catalog: Path, currency: str | None) -> str | None:
    """The demo catalog's currency: as given, else USD for the packaged sample (however its
    path is spelled: `make demo` passes sample_data/corpus.jsonl)."""
    from tinyseek.resources import sample_catalog

    if currency is None and catalog.resolve() == sample_catalog().resolve():
        return SAMPLE_CURRENCY
    return currency


def demo_index_dir(encoder: str | None) -> Path:
    """One demo index per encoder spec, so switching encoders never mixes vectors."""
    if encoder is None:
        return home_dir() / "demo-index"
    digest = hashlib.sha256(encoder.encode()).hexdigest()[:10]
    return home_dir() / f"demo-index-{digest}"


def build_demo_index(
    catalog: Path, index_dir: Path, encoder_spec: str | None, currency: str | None = None
) -> None:
    from tinyseek.indexer.build import build_index
    from tinyseek.indexer.prices import CatalogCurrency
    from tinyseek.indexer.readers import Reject, read_catalog
    from tinyseek.models.encoder import COMPACT, load_encoder

    encoder = load_encoder(encoder_spec or COMPACT)
    prices = CatalogCurrency(currency)
    items = read_catalog(catalog, currency=prices)
    products = (p for p in items if not isinstance(p, Reject))
    stats = build_index(products, index_dir, encoder, progress=True, currency=prices)
    print(f"indexed {stats.products} products into {stats.generation} in {stats.seconds:.1f} s")


def run_demo(args: argparse.Namespace) -> int:
    from tinyseek.models.encoder import COMPACT, check_encoder_spec
    from tinyseek.resources import sample_catalog

    threads = args.threads or 1
    _pin_threads(threads)
    catalog = Path(args.catalog) if args.catalog else sample_catalog()
    index_dir = demo_index_dir(args.encoder)
    if args.rebuild or not (index_dir / "CURRENT").is_file():
        if not catalog.is_file():
            raise FileNotFoundError(f"demo catalog not found: {catalog}")
        check_encoder_spec(args.encoder or COMPACT)
        print(f"building the demo index of {catalog} in {index_dir} ...", flush=True)
        build_demo_index(catalog, index_dir, args.encoder, demo_currency(catalog, args.currency))
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    print(f"tinyseek demo: open http://{host}:{args.port}/  (API docs at /docs)", flush=True)
    return serve(index_dir, args, encoder=args.encoder, pinned=True)
