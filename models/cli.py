"""`tinyseek build-model` and `tinyseek adapt`: build a compact encoder artifact (heavy imports
stay inside the command functions)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def _add_build_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="artifact directory to write")
    parser.add_argument("--teacher", default=None, help="teacher: package (default), dir or hub id")
    parser.add_argument(
        "--layers", type=str, default="0,4,5", help="teacher layers to keep (default 0,4,5)"
    )
    parser.add_argument("--heads", type=int, default=12, help="attention heads kept per layer")
    parser.add_argument("--ffn", type=int, default=1536, help="FFN neurons kept per layer")
    parser.add_argument("--steps", type=int, default=1500, help="distillation steps")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frequent-words", type=int, default=5000)
    parser.add_argument("--l1-amount", type=float, default=0.0, help="L1 unstructured (0 = off)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--save-fp32", type=Path, default=None, help="also save the fp32 student (safetensors)"
    )
    parser.add_argument(
        "--backend", choices=("onnx", "torchscript"), default="onnx", help="default backend"
    )


def register(sub: argparse._SubParsersAction) -> None:
    build = sub.add_parser(
        "build-model",
        help="prune + distill + int8 the teacher into a compact encoder artifact",
        description="Build a compact encoder artifact directory (manifest.json, model.pt, "
        "model.onnx, tokenizer.json) from the offline all-MiniLM-L6-v2 teacher.",
    )
    _add_build_options(build)
    build.add_argument(
        "--distill-on",
        type=Path,
        default=None,
        help="catalog JSONL to distill on (default: sample_data/corpus.jsonl)",
    )
    build.set_defaults(func=build_model_command)

    adapt = sub.add_parser(
        "adapt",
        help="build a compact encoder adapted to a catalog without labels (weak supervision)",
        description="build-model, then fine-tune on (query, positive, hard negative) triples "
        "that labelling functions mint from the catalog itself (contrastive + distillation "
        "loss), and tune hybrid fusion weights on held-out weak pairs; indexes built with "
        "the artifact inherit those weights.",
    )
    adapt.add_argument("catalog", type=Path, help="the catalog (JSONL, CSV, TSV or Parquet)")
    _add_build_options(adapt)
    adapt.add_argument("--adapt-steps", type=int, default=500, help="fine-tuning steps")
    adapt.add_argument("--adapt-lr", type=float, default=1e-4)
    adapt.add_argument("--views-per-product", type=int, default=2)
    adapt.add_argument("--temperature", type=float, default=0.05)
    adapt.add_argument("--distill-weight", type=float, default=1.0)
    adapt.add_argument("--tuning-queries", type=int, default=1000)
    adapt.add_argument(
        "--checkpoint-dir", type=Path, default=None, help="save / resume fine-tuning here"
    )
    adapt.set_defaults(func=adapt_command)


def _build_config(args: argparse.Namespace, distill_on: Path | None) -> Any:
    from tinyseek.models.artifact import Backend
    from tinyseek.models.build import BuildConfig

    try:
        layers = tuple(int(x) for x in str(args.layers).split(",") if x.strip())
    except ValueError as exc:
        raise ValueError(f"--layers expects comma-separated integers, got {args.layers!r}") from exc
    return BuildConfig(
        distill_on=distill_on,
        teacher=args.teacher,
        layers=layers,
        heads=args.heads,
        ffn=args.ffn,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        frequent_words=args.frequent_words,
        l1_amount=args.l1_amount,
        threads=args.threads,
        default_backend=Backend(args.backend),
        save_fp32=args.save_fp32,
    )


def _report(out: Path, started: float, keys: tuple[str, ...]) -> None:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    size = sum(p.stat().st_size for p in out.iterdir()) / 1e6
    print(
        f"built {manifest['name']} in {out} ({size:.1f} MB, {time.perf_counter() - started:.0f} s)"
    )
    print(json.dumps({k: manifest[k] for k in keys if k in manifest}, indent=2))


def build_model_command(args: argparse.Namespace) -> int:
    from tinyseek.models.build import build_artifact

    started = time.perf_counter()
    out = build_artifact(args.out, _build_config(args, args.distill_on))
    _report(out, started, ("fidelity",))
    return 0


def adapt_command(args: argparse.Namespace) -> int:
    from tinyseek.models.adapt import AdaptConfig, adapt_artifact

    config = AdaptConfig(
        views_per_product=args.views_per_product,
        steps=args.adapt_steps,
        batch_size=args.batch_size,
        lr=args.adapt_lr,
        temperature=args.temperature,
        distill_weight=args.distill_weight,
        tuning_queries=args.tuning_queries,
        seed=args.seed,
    )
    started = time.perf_counter()
    out = adapt_artifact(args.out, _build_config(args, args.catalog), config, args.checkpoint_dir)
    _report(out, started, ("fidelity", "fusion", "adaptation"))
    return 0
