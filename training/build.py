"""Build a compact encoder artifact: teacher -> prune -> distill -> int8 -> TorchScript/ONNX.

The stages are separate functions so benchmarks can measure each intermediate model.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from filelock import FileLock
from tokenizers import Tokenizer
from torch import nn

from tinyseek.checksums import file_sha256, tree_sha256
from tinyseek.models.artifact import (
    BACKEND_FILES,
    FORMAT_VERSION,
    KIND,
    MANIFEST,
    TOKENIZER_FILE,
    Backend,
    artifact_name,
    load_artifact_encoder,
    load_tokenizer,
    read_manifest,
)
from tinyseek.models.encoder import default_artifact_dir
from tinyseek.models.torch_backends import TEACHER_ID, resolve_teacher_source, teacher_path
from tinyseek.resources import sample_catalog
from tinyseek.training.distill import (
    HOLDOUT_MODULUS,
    distill,
    distillation_texts,
    embed_texts,
    importance_scores,
    read_products,
)
from tinyseek.training.export import (
    export_onnx,
    quantize_linear_int8,
    trace_torchscript,
    with_int8_embeddings,
)
from tinyseek.training.student import (
    Selection,
    StudentEncoder,
    build_student,
    full_selection,
    load_teacher_state,
    save_student,
)
from tinyseek.training.tokens import pruned_tokenizer_json, used_token_ids, vocabulary_to_keep

log = logging.getLogger(__name__)

DEFAULT_FREQUENT_WORDS = 1 << 20
"""The default artifact keeps the teacher's whole vocabulary (it must serve any catalog) and
ships the ONNX model only, to stay under 25 MB."""
DEFAULT_LAYERS = (0, 1, 2, 3, 4, 5)
"""The default encoder is the whole teacher, int8: measured against a 3-layer student
distilled on the sample catalog (the default before), it keeps 0.99 cosine to the teacher on
any text (0.944 on Home Depot queries for the student) and builds in seconds instead of
minutes; it costs twice the student's query time. `build-model --distill-on CATALOG` (or
`adapt`) makes the faster student once the catalog is known."""


@dataclass(frozen=True)
class BuildConfig:
    distill_on: Path | None = None
    """Catalog to distill on (any format `tinyseek index` reads); None means the packaged
    sample catalog."""
    teacher: str | None = None
    layers: tuple[int, ...] = (0, 4, 5)
    """Teacher layers kept. Measured before distillation (Home Depot queries, median cosine):
    (0,4,5) 0.82, (0,3,5) 0.78, (0,2,5) 0.76, (1,3,5) 0.61, (0,2,4) 0.47: keep the last layer."""
    heads: int = 12
    ffn: int = 1536
    frequent_words: int = 5000
    """Most frequent teacher words kept in the vocabulary besides the catalog's own tokens."""
    steps: int = 1500
    batch_size: int = 64
    lr: float = 3e-4
    seed: int = 0
    max_seq_len: int = 256
    """Tokens embedded per text, as the teacher (sentence-transformers) truncates; products
    embed title + description."""
    l1_amount: float = 0.0
    """Fraction of each Linear's weights zeroed by L1 magnitude (0 = off: it does not pay)."""
    importance_texts: int = 2048
    threads: int | None = None
    backends: tuple[Backend, ...] = (Backend.TORCHSCRIPT, Backend.ONNX)
    default_backend: Backend = Backend.ONNX
    show_progress: bool = True
    save_fp32: Path | None = None
    """Also write the distilled fp32 student here (safetensors, for benchmarks; not shipped)."""

    def catalog(self) -> Path:
        return self.distill_on if self.distill_on is not None else sample_catalog()


@dataclass
class Teacher:
    source: str
    directory: Path
    checksum: str
    state: dict[str, torch.Tensor]
    model: StudentEncoder
    tokenizer: Tokenizer


def load_teacher(source: str | None, max_seq_len: int) -> Teacher:
    """The fp32 teacher as a StudentEncoder (identical outputs to sentence-transformers)."""
    location = resolve_teacher_source(source)
    directory = Path(location)
    if not directory.is_dir():  # a hub id: use the local hub cache (offline here)
        from huggingface_hub import snapshot_download

        directory = Path(snapshot_download(location))
    state = load_teacher_state(directory)
    model = build_student(state, full_selection(state)).eval()
    tokenizer = load_tokenizer(directory / TOKENIZER_FILE, max_seq_len)
    is_default = directory == teacher_path()
    return Teacher(
        source=TEACHER_ID if is_default else location,
        directory=directory,
        checksum=tree_sha256(directory, "*.safetensors"),
        state=state,
        model=model,
        tokenizer=tokenizer,
    )


def select_units(
    teacher: Teacher, texts: list[str], config: BuildConfig, vocab: list[int] | None
) -> Selection:
    """Keep config.layers; within them the most important heads and FFN neurons."""
    n_layers = len(full_selection(teacher.state).layers)
    if not config.layers or any(not 0 <= i < n_layers for i in config.layers):
        raise ValueError(
            f"layers must be distinct indices in 0..{n_layers - 1}, got {config.layers}"
        )
    full = full_selection(teacher.state)
    layered = Selection(
        layers=config.layers,
        heads=tuple(full.heads[i] for i in config.layers),
        neurons=tuple(full.neurons[i] for i in config.layers),
    )
    heads, neurons = layered.heads, layered.neurons
    if config.heads < len(full.heads[0]) or config.ffn < len(full.neurons[0]):
        probe = build_student(teacher.state, layered)
        rng = np.random.default_rng(config.seed)
        sample_idx = rng.choice(
            len(texts), size=min(config.importance_texts, len(texts)), replace=False
        )
        head_imp, ffn_imp = importance_scores(
            probe, teacher.tokenizer, [texts[i] for i in sample_idx]
        )
        heads = tuple(_top(s, config.heads) for s in head_imp)
        neurons = tuple(_top(s, config.ffn) for s in ffn_imp)
    return Selection(
        layers=config.layers, heads=heads, neurons=neurons, vocab=tuple(vocab) if vocab else None
    )


def _top(scores: torch.Tensor, k: int) -> tuple[int, ...]:
    k = min(k, scores.numel())
    return tuple(sorted(torch.topk(scores, k).indices.tolist()))


def l1_prune(model: nn.Module, amount: float) -> None:
    """Classic L1 magnitude pruning of every Linear weight, made permanent. Zeros only: dense
    kernels run at the same speed and dense files keep their size."""
    from torch.nn.utils import prune

    for module in model.modules():
        if isinstance(module, nn.Linear):
            prune.l1_unstructured(module, name="weight", amount=amount)
            prune.remove(module, "weight")


@dataclass
class Prepared:
    """Everything up to (not including) training: reusable across benchmark variants."""

    config: BuildConfig
    teacher: Teacher
    train_texts: list[str]
    held_documents: list[str]
    held_queries: list[str]
    targets: torch.Tensor
    vocab: list[int]
    tokenizer_json: str
    tokenizer: Tokenizer
    timings: dict[str, float] = field(default_factory=dict)


def prepare(config: BuildConfig) -> Prepared:
    """Read the catalog, split off held-out text, compute teacher targets once, prune vocab."""
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    started = time.perf_counter()
    teacher = load_teacher(config.teacher, config.max_seq_len)
    products = read_products(config.catalog())
    train, held = distillation_texts(products, config.seed)
    train_texts = train.all
    targets = torch.empty(0, teacher.model.config.hidden)
    if config.steps > 0:  # only distillation needs them
        targets = embed_texts(
            teacher.model,
            teacher.tokenizer,
            train_texts,
            desc="teacher targets",
            show_progress=config.show_progress,
        )
    teacher_seconds = time.perf_counter() - started
    used = used_token_ids(teacher.tokenizer, train_texts + held.all)
    vocab = vocabulary_to_keep(teacher.tokenizer, used, config.frequent_words)
    tokenizer_json = pruned_tokenizer_json(teacher.directory / TOKENIZER_FILE, vocab)
    tokenizer = Tokenizer.from_str(tokenizer_json)
    tokenizer.no_padding()
    tokenizer.enable_truncation(config.max_seq_len)
    return Prepared(
        config=config,
        teacher=teacher,
        train_texts=train_texts,
        held_documents=held.documents,
        held_queries=held.queries,
        targets=targets,
        vocab=vocab,
        tokenizer_json=tokenizer_json,
        tokenizer=tokenizer,
        timings={"teacher_targets_s": round(teacher_seconds, 1)},
    )


def pruned_student(
    prep: Prepared, config: BuildConfig | None = None
) -> tuple[StudentEncoder, Selection]:
    config = config or prep.config
    selection = select_units(prep.teacher, prep.train_texts, config, prep.vocab)
    return build_student(prep.teacher.state, selection), selection


def train(prep: Prepared, student: StudentEncoder, config: BuildConfig | None = None) -> float:
    config = config or prep.config
    ids = [e.ids for e in prep.tokenizer.encode_batch(prep.train_texts)]
    started = time.perf_counter()
    loss = distill(
        student,
        ids,
        prep.targets,
        steps=config.steps,
        batch_size=config.batch_size,
        lr=config.lr,
        seed=config.seed,
        show_progress=config.show_progress,
    )
    prep.timings["distill_s"] = round(time.perf_counter() - started, 1)
    if config.l1_amount > 0:
        l1_prune(student, config.l1_amount)
    return loss


def write_artifact(
    out: Path,
    prep: Prepared,
    student: StudentEncoder,
    selection: Selection,
    final_mse: float,
    config: BuildConfig | None = None,
) -> Path:
    """Export, measure held-out fidelity, write the manifest; publish `out` atomically."""
    config = config or prep.config
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise ValueError(f"{out} exists and is not an encoder artifact; refusing to overwrite it")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        student = student.eval()
        (work / TOKENIZER_FILE).write_text(prep.tokenizer_json, encoding="utf-8")
        if Backend.TORCHSCRIPT in config.backends:
            trace_torchscript(
                quantize_linear_int8(with_int8_embeddings(student)), work / "model.pt"
            )
        if Backend.ONNX in config.backends:
            export_onnx(with_int8_embeddings(student), work / "model.onnx")
        files = {p.name: file_sha256(p) for p in sorted(work.iterdir())}
        default = (
            config.default_backend
            if config.default_backend in config.backends
            else config.backends[0]
        )
        manifest = _manifest(prep, student, selection, final_mse, files, default, config)
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        manifest["fidelity"] = measure_fidelity(work, prep, config.backends)
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        work.chmod(0o755)  # mkdtemp creates it private
        if out.exists():
            shutil.rmtree(out)
        work.rename(out)
    finally:
        if work.exists():
            shutil.rmtree(work)
    return out


def measure_fidelity(
    path: Path, prep: Prepared, backends: tuple[Backend, ...], limit: int = 2000
) -> dict[str, Any]:
    """Cosine to the teacher on held-out catalog text (never trained on), per backend."""
    held = {"queries": prep.held_queries[:limit], "documents": prep.held_documents[:limit]}
    result: dict[str, Any] = {"held_out_rule": f"crc32(text) % {HOLDOUT_MODULUS} == 0"}
    teacher_vecs = {
        kind: embed_texts(
            prep.teacher.model, prep.teacher.tokenizer, texts, show_progress=False
        ).numpy()
        for kind, texts in held.items()
        if texts
    }
    for backend in backends:
        encoder = load_artifact_encoder(path, backend=backend.value)
        figures: dict[str, Any] = {}
        for kind, texts in held.items():
            if not texts:
                continue
            vecs = np.concatenate(list(encoder.encode_documents(texts)))
            cos = (vecs * teacher_vecs[kind]).sum(axis=1)
            figures[kind] = {
                "n": len(texts),
                "cosine_median": round(float(np.median(cos)), 4),
                "cosine_p5": round(float(np.percentile(cos, 5)), 4),
            }
        result[backend.value] = figures
    return result


def _manifest(
    prep: Prepared,
    student: StudentEncoder,
    selection: Selection,
    final_mse: float,
    files: dict[str, str],
    default: Backend,
    config: BuildConfig,
) -> dict[str, Any]:
    import onnxruntime
    import tokenizers

    catalog = config.catalog()
    return {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "name": artifact_name(files),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dim": student.config.hidden,
        "max_seq_len": config.max_seq_len,
        "pooling": "mean",
        "normalized": True,
        "default_backend": default.value,
        "backends": {b.value: BACKEND_FILES[b] for b in config.backends},
        "files": files,
        "teacher": {"id": prep.teacher.source, "checksum": prep.teacher.checksum},
        "architecture": student.config.to_json() | {"vocab_size": student.config.vocab_size},
        "pruning": {
            "layers_kept": list(selection.layers),
            "heads_per_layer": [len(h) for h in selection.heads],
            "ffn_per_layer": [len(n) for n in selection.neurons],
            "importance": "mean residual-stream norm contributed, on catalog text",
            "vocabulary": {
                "kept": len(prep.vocab),
                "rule": "catalog tokens + characters + most frequent teacher words",
                "frequent_words": config.frequent_words,
            },
            "l1_unstructured_amount": config.l1_amount,
        },
        "distillation": {
            "catalog": catalog.name,
            "catalog_sha256": file_sha256(catalog),
            "texts": len(prep.train_texts),
            "loss": "mse(normalised student, normalised teacher)",
            "steps": config.steps,
            "batch_size": config.batch_size,
            "lr": config.lr,
            "seed": config.seed,
            "final_mse": final_mse,
            "timings": prep.timings,
        },
        "quantization": {
            "linear": "dynamic int8, per-channel weights (torch qint8 / ORT QInt8 MatMul)",
            "word_embeddings": "int8, per-row fp32 scale",
        },
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
            "tokenizers": tokenizers.__version__,
        },
        "build_config": {k: _jsonable(v) for k, v in asdict(config).items()},
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Backend):
        return value.value
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def build_artifact(out: Path, config: BuildConfig) -> Path:
    """The whole pipeline; returns the artifact directory."""
    started = time.perf_counter()
    prep = prepare(config)
    student, selection = pruned_student(prep)
    loss = train(prep, student)
    if config.save_fp32 is not None:
        save_student(student, config.save_fp32)
    prep.timings["total_s"] = round(time.perf_counter() - started, 1)
    return write_artifact(out, prep, student, selection, loss)


def default_build_config(**overrides: Any) -> BuildConfig:
    """The default artifact's recipe: every teacher layer, nothing distilled, the teacher's
    whole vocabulary, int8 ONNX only (see DEFAULT_LAYERS)."""
    base = BuildConfig(
        layers=DEFAULT_LAYERS,
        steps=0,
        frequent_words=DEFAULT_FREQUENT_WORDS,
        backends=(Backend.ONNX,),
    )
    return replace(base, **overrides)


DEFAULT_BUILD_ESTIMATE = "10-20 s on 2 cores"
"""Measured: 7-9 s on an idle 2-core machine, the teacher package already installed."""


def build_default_artifact(
    config: BuildConfig | None = None, force: bool = False
) -> tuple[Path, bool]:
    """Build the default compact encoder into `default_artifact_dir()` unless a valid one is
    already there (or `force`); returns (its directory, whether this call built it).
    Concurrent callers wait for one build (a lock file beside it) instead of building twice."""
    target = default_artifact_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(target.parent / f"{target.name}.lock"):
        if (target / MANIFEST).is_file() and not force:
            read_manifest(target)
            return target, False
        config = config or default_build_config()
        if config.threads is None:  # every core: the build is a one-off, not a server
            config = replace(config, threads=os.cpu_count() or 1)
        log.info(
            "building the default compact encoder into %s (once per machine; about %s)",
            target,
            DEFAULT_BUILD_ESTIMATE,
        )
        build_artifact(target, config)
    read_manifest(target)
    return target, True


__all__ = [
    "BuildConfig",
    "build_artifact",
    "build_default_artifact",
    "default_build_config",
    "prepare",
    "pruned_student",
    "train",
    "write_artifact",
]
