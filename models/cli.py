"""`tinyseek build-model`: build a compact encoder artifact (heavy imports stay inside)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    build = sub.add_parser(
        "build-model",
        help="prune + distill + int8 the teacher into a compact encoder artifact",
        description="Build a compact encoder artifact directory (manifest.json, model.pt, "
        "model.onnx, tokenizer.json) from the offline all-MiniLM-L6-v2 teacher.",
    )
    build.add_argument("--out", type=Path, required=True, help="artifact directory to write")
    build.add_argument(
        "--distill-on",
        type=Path,
        default=None,
        help="catalog JSONL to distill on (default: sample_data/corpus.jsonl)",
    )
    build.add_argument("--teacher", default=None, help="teacher: package (default), dir or hub id")
    build.add_argument(
        "--layers", type=str, default="0,4,5", help="teacher layers to keep (default 0,4,5)"
    )
    build.add_argument("--heads", type=int, default=12, help="attention heads kept per layer")
    build.add_argument("--ffn", type=int, default=1536, help="FFN neurons kept per layer")
    build.add_argument("--steps", type=int, default=1500, help="distillation steps")
    build.add_argument("--batch-size", type=int, default=64)
    build.add_argument("--lr", type=float, default=3e-4)
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--frequent-words", type=int, default=5000)
    build.add_argument("--l1-amount", type=float, default=0.0, help="L1 unstructured (0 = off)")
    build.add_argument("--threads", type=int, default=None)
    build.add_argument(
        "--save-fp32", type=Path, default=None, help="also save the fp32 student (safetensors)"
    )
    build.add_argument(
        "--backend", choices=("onnx", "torchscript"), default="onnx", help="default backend"
    )
    build.set_defaults(func=build_model_command)


def build_model_command(args: argparse.Namespace) -> int:
    from models.artifact import Backend
    from models.build import BuildConfig, build_artifact

    try:
        layers = tuple(int(x) for x in str(args.layers).split(",") if x.strip())
    except ValueError as exc:
        raise ValueError(f"--layers expects comma-separated integers, got {args.layers!r}") from exc
    config = BuildConfig(
        distill_on=args.distill_on,
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
    started = time.perf_counter()
    out = build_artifact(args.out, config)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    size = sum(p.stat().st_size for p in out.iterdir()) / 1e6
    print(
        f"built {manifest['name']} in {out} ({size:.1f} MB, {time.perf_counter() - started:.0f} s)"
    )
    print(json.dumps(manifest["fidelity"], indent=2))
    return 0
