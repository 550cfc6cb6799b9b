"""Indexer commands: `tinyseek index | update | compact | rollback | generations | gc`.

Indexer README
==============

Build an index from a catalog::

    tinyseek index catalog.csv --out INDEX_DIR [--map title=name] [--mapping map.toml]
        [--resume] [--batch-size 64] [--token-budget 16384] [--threads 2]
        [--rejects rejects.jsonl] [--keep 3] [--encoder compact|teacher|ARTIFACT_DIR]

Catalogs: `.jsonl` (UTF-8), `.csv` / `.tsv` (encoding detected, Latin-1 and
cp1252 included; `--encoding` overrides) and `.parquet`. Source columns map onto
the product fields id, title, description, brand, category, price, rating,
in_stock, attributes: defaults accept common names (`_id`, `text`, `name`...),
`--map FIELD=COLUMN` (repeatable) or `--mapping FILE` (JSON or TOML table of
field = column or [columns]) override them. A bad row (missing or repeated id,
missing title, a value of the wrong type, undecodable text, malformed line) is
written to the rejects file as JSON lines `{"line", "reason", "raw"}` and
counted in the summary; it never stops the job.

Embedding streams in chunks (`--checkpoint-every` products, default 4096),
each split into encoder batches of at most `--batch-size` texts and
`--token-budget` padded tokens. Each finished chunk is saved to
INDEX_DIR/.checkpoint/ as a .npy shard. A job killed at any point (kill -9,
spot preemption) continues with `--resume` and does not re-embed finished
chunks; resuming refuses a checkpoint made from another catalog (sha256),
encoder or mapping.

Every build writes a new generation `INDEX_DIR/gen-NNNNNN/` beside the served
one, fsyncs it and publishes it by atomically replacing `INDEX_DIR/CURRENT`.
Readers keep answering from the generation they hold until
`Engine.reload_if_changed()` moves them. After publishing, generations beyond
the newest `--keep` are deleted (never the served one).

Writes acknowledged through the API (or `tinyseek update`) are in the index's
journal; a build replays those made after the catalog's snapshot onto the new
generation before publishing it. The snapshot is the catalog file's modification
time (`--writes-since catalog`, the default: an export holds the writes made before
it) or the start of the build (`--writes-since start`). A build whose snapshot
predates writes the journal no longer holds refuses to publish (exit 7).

Update the served generation in place (no rebuild)::

    tinyseek update INDEX_DIR --upsert delta.jsonl --delete ids.txt

Upserts and deletes are visible to every mode (bm25, dense, hybrid) right after
the commit, for any engine that calls `reload_if_changed()`. Replaced and
deleted products leave tombstones; `tinyseek compact INDEX_DIR` writes a fresh
generation without them. `tinyseek rollback INDEX_DIR` serves the previous
generation again (`--to gen-NNNNNN` for a given one); `tinyseek generations
INDEX_DIR` lists them. The library equivalents are `tinyseek.build_catalog`,
`tinyseek.IndexWriter(index_dir).upsert(...) / .delete(...) / .commit()`,
`tinyseek.compact` and `tinyseek.rollback`.

One writer at a time: every command that changes an index holds an exclusive
lock on INDEX_DIR/.writer.lock, waiting up to `--wait` seconds (default 30) for
another writer (the service applies each API write under it for a moment) before
giving up (exit code 4).

Exit codes (each command's --help lists the ones it can return):

    0  success
    1  success, but some rows were rejected (the index was published; see --rejects)
    2  usage or configuration error (bad flags, missing file, unknown format or
       field, a checkpoint that does not match on --resume, nothing to roll back to)
    3  no valid products: every row was rejected, nothing was published
    4  another writer held the index lock for longer than --wait; nothing was changed
    5  the index is damaged: a generation failed verification (the file is named)
    6  the disk is full; nothing half-written is left behind
    7  refused: publishing would drop acknowledged writes the journal no longer holds
    8  unexpected internal error (--debug or TINYSEEK_DEBUG=1 prints the traceback)
    9  refused: the new generation scores worse than the served one on the index's
       reference labels (index, compact; --force publishes it, recorded as forced)
   10  update applied, but quality fell past the tolerance on the reference labels

With reference labels attached (`tinyseek labels attach INDEX_DIR FILE`), every new
generation (index, compact, a new encoder or fusion) is scored on them before it is
published and refused when F1@10 or nDCG@10 of a configuration falls by more than the
tolerance against the served generation; `update` re-scores after writes that touch
judged products or 1% of the catalog and raises the alarm instead (the writes are kept).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from tinyseek.errors import EXIT_OK, EXIT_QUALITY_ALARM, EXIT_REJECTS, exit_codes_help

if TYPE_CHECKING:
    from tinyseek.search.types import FusionWeights

DEFAULT_WAIT = 30.0
DEFAULT_KEEP = 3
NOTHING_PUBLISHED = {3: "no valid products: nothing was published"}
EXIT_CODES_HELP = exit_codes_help(
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    {1: "published, but some rows were rejected", **NOTHING_PUBLISHED},
)
UPDATE_EXIT_CODES_HELP = exit_codes_help(
    (0, 1, 2, 4, 5, 6, 8, 10), {1: "applied, but some rows were rejected"}
)
COMPACT_EXIT_CODES_HELP = exit_codes_help(
    (0, 2, 3, 4, 5, 6, 7, 8, 9), {3: "no live products: nothing was published"}
)
ROLLBACK_EXIT_CODES_HELP = exit_codes_help((0, 2, 4, 5, 6, 7, 8))
GC_EXIT_CODES_HELP = exit_codes_help((0, 2, 4, 5, 6, 8))
GENERATIONS_EXIT_CODES_HELP = exit_codes_help((0, 2, 5, 8))
THREADS_HELP = "CPU threads for encoding and FAISS (default: all cores)"
FORCE_HELP = (
    "publish even if the new generation scores worse than the served one on the index's "
    "reference labels (tinyseek labels attach); recorded as forced"
)


def _add_wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT,
        metavar="SECONDS",
        help=f"wait this long for another writer to finish (default {DEFAULT_WAIT:g}; 0 = fail "
        "at once)",
    )


def _add_keep(
    parser: argparse.ArgumentParser,
    text: str = "generations to keep after publishing (default {keep}; the served one is "
    "always kept)",
) -> None:
    parser.add_argument(
        "--keep", type=int, default=DEFAULT_KEEP, help=text.format(keep=DEFAULT_KEEP)
    )


def _add_mapping_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="map a source column onto a product field (repeatable), e.g. --map title=name",
    )
    parser.add_argument(
        "--mapping", metavar="FILE", help="JSON or TOML file: product field = column or [columns]"
    )
    parser.add_argument(
        "--format", choices=["jsonl", "csv", "tsv", "parquet"], help="override the file suffix"
    )
    parser.add_argument("--encoding", help="text encoding of CSV/TSV (default: detected)")
    parser.add_argument(
        "--attributes",
        default="all",
        metavar="all|none|COL,COL",
        help="which columns no field names are kept as product attributes (default: all)",
    )
    parser.add_argument("--rejects", metavar="FILE", help="write rejected rows here (JSON lines)")


def _unmapped(args: argparse.Namespace) -> str | list[str]:
    value = str(args.attributes).strip()
    if value in ("all", "none"):
        return value
    columns = [c.strip() for c in value.split(",") if c.strip()]
    if not columns:
        raise ValueError("--attributes expects all, none or column names separated by commas")
    return columns


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "index",
        help="index a catalog (jsonl/csv/tsv/parquet) into a new generation and publish it",
        description=__doc__.split("Indexer README")[0].strip(),
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("catalog", help="catalog file (.jsonl, .csv, .tsv, .parquet)")
    parser.add_argument("--out", required=True, help="index directory (created if missing)")
    parser.add_argument(
        "--encoder",
        default="compact",
        help="'compact' (default: the int8 compact encoder, built once per machine), 'teacher' "
        "(all-MiniLM-L6-v2 fp32), an encoder artifact dir (tinyseek build-model / adapt), or a "
        "sentence-transformers model path",
    )
    _add_mapping_args(parser)
    parser.add_argument(
        "--currency",
        metavar="CODE",
        help="ISO code of the catalog's prices, e.g. EUR (default: the first currency its "
        "prices name; rows in another currency are rejected)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted build from its checkpoint"
    )
    parser.add_argument(
        "--batch-size", type=int, default=64, help="most texts per encoder call (default 64)"
    )
    parser.add_argument(
        "--token-budget", type=int, default=16_384, help="most padded tokens per encoder call"
    )
    parser.add_argument(
        "--checkpoint-every", type=int, default=4096, help="products per checkpoint shard"
    )
    parser.add_argument("--threads", type=int, default=None, help=THREADS_HELP)
    _add_keep(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="embed on a Ray cluster with Ray Data (needs pip install 'tinyseek[ray]'): "
        "ADDRESS of a running cluster (e.g. auto, 127.0.0.1:6379, ray://host:10001), or none "
        "to start one on this machine; finished blocks are checkpointed, --resume adopts them",
    )
    parser.add_argument(
        "--ray-workers", type=int, default=None, help="encoder actors (default: CPUs / threads)"
    )
    parser.add_argument(
        "--ray-threads", type=int, default=1, help="ONNX threads (and CPUs) per encoder actor"
    )
    parser.add_argument(
        "--dense-index",
        choices=["auto", "flat", "hnsw", "hnsw_sq8", "ivfpq"],
        default="auto",
        help="FAISS index for the vectors (default auto: exact below 20k products, HNSW below "
        "500k, HNSW over 8-bit quantised vectors above); the build prints and records its "
        "recall@10 against exact search",
    )
    parser.add_argument(
        "--recall-queries",
        metavar="FILE",
        help="query texts (one a line, or JSON lines with a 'text' field) to measure the dense "
        "index's recall@10 on (default: a sample of the products' own vectors)",
    )
    parser.add_argument(
        "--fusion",
        metavar="JSON",
        help="default hybrid weights stored in the index manifest, e.g. "
        '\'{"method": "convex", "bm25": 0.5, "dense": 0.5, "partial": 1}\' '
        "(default: RRF k=60, 1:1, partial 0; searches may still override them per call)",
    )
    parser.add_argument(
        "--writes-since",
        choices=["catalog", "start"],
        default="catalog",
        help="which acknowledged API/update writes to replay onto the new generation: those "
        "made after the catalog file was last modified (default), or after this build starts "
        "(the catalog already holds every earlier write)",
    )
    parser.add_argument("--force", action="store_true", help=FORCE_HELP)
    _add_wait(parser)
    parser.set_defaults(func=run_index)

    update = sub.add_parser(
        "update",
        help="upsert and delete products in the served generation (no rebuild)",
        epilog=UPDATE_EXIT_CODES_HELP,
    )
    update.add_argument("index_dir")
    update.add_argument("--upsert", metavar="FILE", help="products to add or replace (any format)")
    update.add_argument("--delete", metavar="FILE", help="ids to delete, one per line")
    update.add_argument(
        "--delete-id", action="append", default=[], metavar="ID", help="an id to delete"
    )
    update.add_argument(
        "--encoder", help="encoder spec (default: the one the served generation was built with)"
    )
    update.add_argument("--threads", type=int, default=None, help=THREADS_HELP)
    _add_mapping_args(update)
    _add_wait(update)
    update.set_defaults(func=run_update)

    compact = sub.add_parser(
        "compact",
        help="rewrite the served generation without tombstones",
        epilog=COMPACT_EXIT_CODES_HELP,
    )
    compact.add_argument("index_dir")
    _add_keep(compact)
    compact.add_argument("--threads", type=int, default=None, help=THREADS_HELP)
    compact.add_argument("--force", action="store_true", help=FORCE_HELP)
    _add_wait(compact)
    compact.set_defaults(func=run_compact)

    rollback = sub.add_parser(
        "rollback",
        help="serve the previous generation again (with every acknowledged write applied)",
        epilog=ROLLBACK_EXIT_CODES_HELP,
    )
    rollback.add_argument("index_dir")
    rollback.add_argument("--to", metavar="GEN", help="generation to serve (default: previous)")
    _add_wait(rollback)
    rollback.set_defaults(func=run_rollback)

    generations = sub.add_parser(
        "generations",
        help="list an index's generations",
        description="One line per generation, the served one marked with *: revision, live "
        "products, tombstones, creation time, encoder.",
        epilog=GENERATIONS_EXIT_CODES_HELP,
    )
    generations.add_argument("index_dir")
    generations.set_defaults(func=run_generations)

    push = sub.add_parser(
        "push-index",
        help="upload the served generation to object storage (s3://, gs://, any fsspec URL)",
        epilog=exit_codes_help((0, 2, 5, 8)),
    )
    push.add_argument("index_dir")
    push.add_argument("url", help="e.g. s3://bucket/indexes/shop (URL/CURRENT is written last)")
    push.set_defaults(func=run_push)
    pull = sub.add_parser(
        "pull-index",
        help="download the generation URL/CURRENT names and serve it from INDEX_DIR (verified; "
        "nothing is downloaded when it is already there)",
        epilog=exit_codes_help(
            (0, 2, 5, 6, 8), {5: "the download is damaged or incomplete (nothing served)"}
        ),
    )
    pull.add_argument("url")
    pull.add_argument("index_dir")
    pull.set_defaults(func=run_pull)

    shard = sub.add_parser(
        "shard",
        help="cut the served state's vectors into N shards by product id (for `tinyseek serve "
        "--ray --shards DIR`)",
        description="Each part is a FAISS index of the generation's kind over the products "
        "whose id hashes to it. The set names the state it was cut from; a service refuses "
        "it for any other, so cut again after an update or a new generation.",
        epilog=exit_codes_help((0, 2, 5, 6, 8)),
    )
    shard.add_argument("index_dir")
    shard.add_argument("--shards", type=int, required=True, help="how many parts (>= 2)")
    shard.add_argument("--out", required=True, help="folder for the set (replaced if one is there)")
    shard.set_defaults(func=run_shard)

    gc = sub.add_parser("gc", help="delete old generations", epilog=GC_EXIT_CODES_HELP)
    gc.add_argument("index_dir")
    _add_keep(gc, "generations to keep (default {keep}; the served one is always kept)")
    _add_wait(gc)
    gc.set_defaults(func=run_gc)


def _positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")


def _wait(args: argparse.Namespace) -> float:
    if args.wait < 0:
        raise ValueError(f"--wait must be >= 0, got {args.wait:g}")
    return float(args.wait)


def _summary(rejected: int, reasons: Mapping[str, int], rejects_file: str | None) -> str:
    if not rejected:
        return "no rows rejected"
    detail = ", ".join(f"{reason}: {n}" for reason, n in reasons.items())
    where = f"; details in {rejects_file}" if rejects_file else "; pass --rejects FILE for details"
    return f"{rejected} rows rejected ({detail}){where}"


def _parse_fusion(text: str | None) -> FusionWeights | None:
    import json

    from tinyseek.search.types import FusionWeights

    if text is None:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--fusion is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("--fusion must be a JSON object of weights")
    return FusionWeights.from_dict(data)


def _read_queries(path: Path) -> list[str]:
    """Query texts: one a line, or JSON lines with a "text" field (BEIR queries.jsonl)."""
    import json

    texts = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line.startswith("{"):
                line = str(json.loads(line).get("text", "")).strip()
            if line:
                texts.append(line)
    if not texts:
        raise ValueError(f"{path}: no query texts")
    return texts


def run_index(args: argparse.Namespace) -> int:
    from tinyseek.indexer.build import build_catalog
    from tinyseek.indexer.embedding import BatchPolicy
    from tinyseek.indexer.lock import WriterLock
    from tinyseek.indexer.readers import catalog_format, parse_mapping
    from tinyseek.models.encoder import check_encoder_spec, load_encoder
    from tinyseek.search.layout import read_manifest

    for name in ("batch_size", "token_budget", "checkpoint_every", "threads", "keep"):
        _positive("--" + name.replace("_", "-"), getattr(args, name))
    mapping = parse_mapping(args.map, args.mapping)
    fusion = _parse_fusion(args.fusion)
    if args.currency is not None:
        from tinyseek.indexer.prices import currency_code

        currency_code(args.currency)  # a usage error before any work
    catalog = Path(args.catalog)
    if not catalog.is_file():
        raise FileNotFoundError(f"catalog not found: {catalog}")
    catalog_format(catalog, args.format)
    check_encoder_spec(args.encoder)
    wait = _wait(args)
    with WriterLock(args.out, timeout=wait):  # fail fast, before loading the encoder
        pass
    from tinyseek.search.dense import DenseParams

    dense_params = DenseParams(kind=args.dense_index)
    ray = None
    if args.ray is not None:
        from tinyseek.extras import require
        from tinyseek.indexer.ray_embed import RayOptions

        require("ray", "ray")
        _positive("--ray-workers", args.ray_workers)
        _positive("--ray-threads", args.ray_threads)
        ray = RayOptions(args.ray, args.ray_workers, args.ray_threads)
    recall_queries = _read_queries(Path(args.recall_queries)) if args.recall_queries else None
    encoder = load_encoder(args.encoder, threads=args.threads)
    stats = build_catalog(
        catalog,
        args.out,
        encoder,
        mapping=mapping,
        encoding=args.encoding,
        fmt=args.format,
        currency=args.currency,
        unmapped=_unmapped(args),
        resume=args.resume,
        policy=BatchPolicy(args.batch_size, args.token_budget),
        checkpoint_rows=args.checkpoint_every,
        rejects_path=args.rejects,
        keep=args.keep,
        fusion=fusion,
        threads=args.threads,
        progress=not args.no_progress,
        lock_wait=wait,
        writes_since=args.writes_since,
        force=args.force,
        dense_params=dense_params,
        recall_queries=recall_queries,
        ray=ray,
    )
    resumed = (
        f"; resumed with {stats.resumed_from} products already embedded"
        if stats.resumed_from
        else ""
    )
    print(
        f"published {stats.generation.name}: {stats.products} products "
        f"({stats.embedded} embedded by this run{resumed}) in {stats.seconds:.1f} s; "
        f"{_summary(stats.rejected, stats.reject_reasons, args.rejects)}"
    )
    dense = read_manifest(stats.generation).get("dense", {})
    recall = dense.get("recall")
    print(
        f"dense index: {dense.get('kind')}"
        + (
            f"; recall@10 against exact search {recall['at_10']:.4f} "
            f"({recall['sample']} {recall['queries']})"
            if recall
            else " (exact)"
        )
    )
    return EXIT_REJECTS if stats.rejected else EXIT_OK


def run_push(args: argparse.Namespace) -> int:
    from tinyseek.indexer.remote import push_index

    done = push_index(args.index_dir, args.url)
    print(f"pushed {done.generation}: {done.files} files, {done.bytes / 1e6:.1f} MB to {args.url}")
    return EXIT_OK


def run_pull(args: argparse.Namespace) -> int:
    from tinyseek.indexer.remote import pull_index

    done = pull_index(args.url, args.index_dir)
    if done.skipped:
        print(f"{done.generation} is already in {args.index_dir} and sound; serving it")
    else:
        print(f"pulled {done.generation}: {done.files} files, {done.bytes / 1e6:.1f} MB")
    return EXIT_OK


def run_shard(args: argparse.Namespace) -> int:
    from tinyseek.indexer.shards import cut_shards

    cut = cut_shards(Path(args.index_dir), Path(args.out), args.shards)
    counts = ", ".join(str(part["count"]) for part in cut.parts)
    print(
        f"cut {cut.generation} revision {cut.revision} ({cut.size} vectors, {cut.kind}) into "
        f"{len(cut.parts)} shards of {counts} at {args.out}"
    )
    return EXIT_OK


def run_update(args: argparse.Namespace) -> int:
    from tinyseek.indexer.guard import check_in_place
    from tinyseek.indexer.readers import Reject, parse_mapping, read_catalog
    from tinyseek.indexer.writer import IndexWriter
    from tinyseek.search.types import Product

    if not args.upsert and not args.delete and not args.delete_id:
        raise ValueError("nothing to do: pass --upsert FILE and/or --delete FILE / --delete-id")
    wait = _wait(args)  # usage errors before anything is read
    mapping = parse_mapping(args.map, args.mapping)
    delete_ids = list(args.delete_id)
    if args.delete:
        text = Path(args.delete).read_text(encoding="utf-8")
        delete_ids += [line.strip() for line in text.splitlines() if line.strip()]
    rejects: list[Reject] = []
    products: list[Product] = []
    if args.upsert:
        from tinyseek.indexer.prices import CatalogCurrency
        from tinyseek.search.layout import current_generation, read_manifest

        served = read_manifest(current_generation(Path(args.index_dir))).get("currency")
        prices = CatalogCurrency(served, source="the index's")
        items = read_catalog(
            args.upsert,
            mapping,
            encoding=args.encoding,
            fmt=args.format,
            currency=prices,
            unmapped=_unmapped(args),
        )
        for item in items:
            (rejects if isinstance(item, Reject) else products).append(item)  # type: ignore[arg-type]
    if args.rejects:
        with Path(args.rejects).open("w", encoding="utf-8") as fh:
            fh.writelines(r.to_json() + "\n" for r in rejects)
    encoder = None
    if args.encoder:
        from tinyseek.models.encoder import load_encoder

        encoder = load_encoder(args.encoder, threads=args.threads)
    with IndexWriter(args.index_dir, encoder, threads=args.threads, wait=wait) as writer:
        writer.upsert(products)
        writer.delete(delete_ids)
        stats = writer.commit()
        check = check_in_place(Path(args.index_dir), writer.encoder)
    not_found = ""
    if stats.missing:
        shown = ", ".join(repr(i) for i in stats.missing_ids[:10])
        more = f" and {stats.missing - 10} more" if stats.missing > 10 else ""
        not_found = f"; not found (nothing deleted): {shown}{more}"
    print(
        f"{stats.generation} revision {stats.revision}: {stats.upserted} upserted "
        f"({stats.replaced} replaced), {stats.deleted} deleted; "
        f"{stats.live} live, {stats.tombstones} tombstones; {stats.seconds:.2f} s{not_found}"
    )
    if rejects:
        from tinyseek.indexer.build import reject_kind

        reasons: dict[str, int] = {}
        for r in rejects:
            reasons[reject_kind(r.reason)] = reasons.get(reject_kind(r.reason), 0) + 1
        print(_summary(len(rejects), reasons, args.rejects))
    if stats.tombstones > stats.live // 4:
        print(f"hint: many tombstones; `tinyseek compact {args.index_dir}` removes them")
    if check is not None:
        print(f"quality: {check.report.summary() if check.report else check.reason}")
        if check.alarm is not None:
            print(f"QUALITY ALARM: {check.alarm.message()}")
            return EXIT_QUALITY_ALARM
    return EXIT_REJECTS if rejects else EXIT_OK


def run_compact(args: argparse.Namespace) -> int:
    from tinyseek.indexer.build import compact

    _positive("--keep", args.keep)
    wait = _wait(args)
    stats = compact(
        args.index_dir, keep=args.keep, threads=args.threads, lock_wait=wait, force=args.force
    )
    print(f"published {stats.generation.name}: {stats.products} products, no tombstones")
    return EXIT_OK


def run_rollback(args: argparse.Namespace) -> int:
    from tinyseek.indexer.generations import rollback

    before, after = rollback(args.index_dir, args.to, lock_wait=_wait(args))
    print(f"now serving {after} (was {before})")
    return EXIT_OK


def run_generations(args: argparse.Namespace) -> int:
    from tinyseek.indexer.generations import describe_generations

    infos = describe_generations(args.index_dir)
    if not infos:
        raise FileNotFoundError(f"{args.index_dir}: no generations")
    for info in infos:
        mark = "*" if info.served else " "
        print(
            f"{mark} {info.name}  rev {info.revision:<4} {info.products:>9} products "
            f"{info.tombstones:>7} tombstones  {info.created_at}  {info.encoder}"
            + (f"  quality: {info.quality}" if info.quality else "")
        )
    return EXIT_OK


def run_gc(args: argparse.Namespace) -> int:
    from tinyseek.indexer.generations import collect_garbage
    from tinyseek.search.layout import list_generations

    _positive("--keep", args.keep)
    removed = collect_garbage(args.index_dir, args.keep, lock_wait=_wait(args))
    kept = len(list_generations(Path(args.index_dir)))
    if removed:
        print(f"removed {len(removed)}: {', '.join(p.name for p in removed)}; {kept} kept")
    else:
        print(f"nothing to remove: {kept} generations, --keep {args.keep}")
    return EXIT_OK


__all__ = ["register"]
