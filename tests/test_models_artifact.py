"""Compact encoder: a tiny student built once per session, traced, saved, loaded, corrupted."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import PRODUCTS
from tinyseek.models.artifact import ArtifactEncoder, load_artifact_encoder, read_manifest
from tinyseek.models.encoder import Encoder, load_encoder
from tinyseek.training.distill import pad_batch
from tinyseek.training.export import quantize_linear_int8, trace_torchscript, with_int8_embeddings

REPO = Path(__file__).resolve().parent.parent
TEXTS = ["cordless drill 18v", "Shaker Oak Vanity with Marble Top, 36 in."]
# first 4 dims of TEXTS through the tiny student's TorchScript backend, seeds fixed
GOLDEN = np.array(
    [[-0.043271, 0.052894, -0.007624, -0.010464], [-0.038013, 0.008194, -0.007462, 0.018804]],
    dtype=np.float32,
)


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_tiny_student_shape(tiny: dict[str, object]) -> None:
    manifest = read_manifest(Path(str(tiny["path"])))
    assert manifest["pruning"]["layers_kept"] == [0]
    assert manifest["pruning"]["heads_per_layer"] == [4]
    assert manifest["pruning"]["ffn_per_layer"] == [64]
    assert manifest["dim"] == 384
    assert set(manifest["files"]) == {"model.pt", "model.onnx", "tokenizer.json"}


def test_traced_matches_eager(tiny: dict[str, object], tmp_path: Path) -> None:
    student = tiny["student"]
    prep = tiny["prep"]
    assert isinstance(student, torch.nn.Module)
    quantized = quantize_linear_int8(with_int8_embeddings(student))  # type: ignore[arg-type]
    traced = trace_torchscript(quantized, tmp_path / "m.pt")
    texts = [*TEXTS, "hose", "a much longer product title than the tracing example had"]
    ids = pad_batch([e.ids for e in prep.tokenizer.encode_batch(texts)])  # type: ignore[attr-defined]
    with torch.inference_mode():
        eager, fp32 = quantized(ids), student(ids)
        for rows in (ids, ids[:1, :6], ids[2:3]):  # shapes other than the trace example
            n = rows.shape[0]
            got = traced(rows)
            want = quantized(rows)
            assert torch.allclose(got, want, atol=1e-5), (rows.shape, (got - want).abs().max())
            assert got.shape == (n, 384)
    assert torch.allclose(traced(ids), eager, atol=1e-5)
    assert float((eager * fp32).sum(dim=1).min()) > 0.97  # int8 keeps the fp32 direction


def test_round_trip_same_vectors(tiny: dict[str, object]) -> None:
    path = Path(str(tiny["path"]))
    for backend in ("torchscript", "onnx"):
        first = load_artifact_encoder(path, threads=1, backend=backend)
        second = load_encoder(path) if backend == "onnx" else ArtifactEncoder(path, 1, backend)
        assert isinstance(second, Encoder)
        a = first.encode_queries(TEXTS)
        b = np.concatenate(list(second.encode_documents(TEXTS, batch_size=1)))
        np.testing.assert_allclose(a, b, atol=1e-6)
        assert a.dtype == np.float32 and a.shape == (2, 384)
        np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
        assert first.name == read_manifest(path)["name"] and first.name.startswith("tinyseek-")


def test_documents_stream_in_order(tiny: dict[str, object]) -> None:
    encoder = load_artifact_encoder(Path(str(tiny["path"])), threads=1)
    texts = [p[0] for p in PRODUCTS] * 3
    batches = list(encoder.encode_documents(iter(texts), batch_size=5))
    assert [len(b) for b in batches] == [5, 5, 5, 5, 4]
    vectors = np.concatenate(batches)
    single = np.concatenate([encoder.encode_queries([t]) for t in texts])
    np.testing.assert_allclose(vectors, single, atol=1e-6)


@pytest.mark.parametrize("backend", ["onnx", "torchscript"])
def test_a_vector_depends_on_its_text_alone(tiny: dict[str, object], backend: str) -> None:
    """The int8 graphs scale activations per call: texts must not share a call, or a
    product's vector would depend on its batch neighbours and on the thread count."""
    path = Path(str(tiny["path"]))
    texts = [p[0] for p in PRODUCTS]
    long = " ".join(p[1] for p in PRODUCTS)  # wide activations and padding, if batched
    alone = np.concatenate(
        [load_artifact_encoder(path, 1, backend).encode_queries([t]) for t in texts]
    )
    for threads in (1, 3):
        encoder = load_artifact_encoder(path, threads=threads, backend=backend)
        mixed = encoder.encode_token_ids(encoder.token_ids([long, *texts, long]))[1:-1]
        np.testing.assert_allclose(mixed, alone, atol=1e-6)
        np.testing.assert_allclose(encoder.encode_queries(texts), alone, atol=1e-6)


def test_golden_vectors(tiny: dict[str, object]) -> None:
    encoder = load_artifact_encoder(Path(str(tiny["path"])), threads=1, backend="torchscript")
    got = np.concatenate([encoder.encode_queries([t]) for t in TEXTS])[:, :4]
    np.testing.assert_allclose(got, GOLDEN, atol=2e-3)


def test_missing_file(tiny: dict[str, object], tmp_path: Path) -> None:
    path = _copy(Path(str(tiny["path"])), tmp_path / "a")
    (path / "model.pt").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing file model\.pt"):
        load_artifact_encoder(path, backend="torchscript")
    shutil.rmtree(path)
    with pytest.raises(FileNotFoundError):
        load_artifact_encoder(path)


def test_flipped_bytes_fail_checksum(tiny: dict[str, object], tmp_path: Path) -> None:
    path = _copy(Path(str(tiny["path"])), tmp_path / "a")
    data = bytearray((path / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (path / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"checksum mismatch for model\.onnx"):
        load_artifact_encoder(path, backend="onnx")


def test_truncated_model_fails(tiny: dict[str, object], tmp_path: Path) -> None:
    path = _copy(Path(str(tiny["path"])), tmp_path / "a")
    data = (path / "model.pt").read_bytes()
    (path / "model.pt").write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_artifact_encoder(path, backend="torchscript")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("format_version", 99, "expected format_version 1, found 99"),
        ("kind", "something-else", "expected kind 'tinyseek-encoder'"),
    ],
)
def test_wrong_manifest(
    tiny: dict[str, object], tmp_path: Path, key: str, value: object, message: str
) -> None:
    path = _copy(Path(str(tiny["path"])), tmp_path / "a")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest[key] = value
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=message):
        load_artifact_encoder(path)


def test_unknown_backend(tiny: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="expected one of torchscript, onnx"):
        load_artifact_encoder(Path(str(tiny["path"])), backend="tensorrt")


@pytest.mark.parametrize("backend", ["torchscript", "onnx"])
def test_query_path_does_not_import_transformers(tiny: dict[str, object], backend: str) -> None:
    code = (
        "import sys\n"
        "from tinyseek.models import load_encoder\n"
        "from tinyseek.models.artifact import load_artifact_encoder\n"
        f"enc = load_artifact_encoder(sys.argv[1], threads=1, backend={backend!r})\n"
        "v = enc.encode_queries(['cordless drill'])\n"
        "assert v.shape == (1, 384), v.shape\n"
        "bad = [m for m in ('transformers', 'sentence_transformers') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tiny["path"])],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_compact_loads_the_default_artifact_from_home(
    tiny: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tinyseek.models.encoder import default_artifact_dir

    monkeypatch.setenv("TINYSEEK_HOME", str(tmp_path))
    assert default_artifact_dir() == tmp_path / "encoder-default"
    _copy(Path(str(tiny["path"])), tmp_path / "encoder-default")
    encoder = load_encoder("compact")
    assert encoder.name == read_manifest(Path(str(tiny["path"])))["name"]


def test_loading_a_missing_default_encoder_never_builds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tinyseek.models.encoder import DefaultEncoderMissingError

    monkeypatch.setenv("TINYSEEK_HOME", str(tmp_path))
    with pytest.raises(DefaultEncoderMissingError) as caught:
        load_encoder("compact")
    message = str(caught.value)
    assert "pip install 'tinyseek[train]'" in message
    assert "tinyseek build-model --default" in message and "--encoder DIR" in message
    assert list(tmp_path.iterdir()) == []  # nothing was built, nothing was locked


def test_build_model_default_skips_an_existing_artifact(
    tiny: dict[str, object],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tinyseek.cli import main

    monkeypatch.setenv("TINYSEEK_HOME", str(tmp_path))
    _copy(Path(str(tiny["path"])), tmp_path / "encoder-default")
    assert main(["build-model", "--default"]) == 0
    assert "already built" in capsys.readouterr().out


def test_student_reimplementation_matches_teacher(tiny: dict[str, object]) -> None:
    """The plain-torch BERT with every unit kept reproduces sentence-transformers exactly."""
    from tinyseek.models.torch_backends import SentenceTransformerEncoder

    prep = tiny["prep"]
    teacher = prep.teacher  # type: ignore[attr-defined]
    texts = [*TEXTS, "hose"]
    ids = pad_batch([e.ids for e in teacher.tokenizer.encode_batch(texts)])
    with torch.inference_mode():
        ours = teacher.model(ids).numpy()
    reference = SentenceTransformerEncoder(threads=1).encode_queries(texts)
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_index_built_with_an_artifact_reopens_with_its_bundled_encoder(
    tiny: dict[str, object], tmp_path: Path
) -> None:
    from tinyseek.indexer.build import build_index
    from tinyseek.search import Engine, Product

    encoder = load_artifact_encoder(Path(str(tiny["path"])))
    products = [
        Product(id=str(i), title=title, brand=brand, category=category)
        for i, (title, brand, category) in enumerate(PRODUCTS)
    ]
    build_index(products, tmp_path / "index", encoder)
    engine = Engine.open(tmp_path / "index")  # no encoder passed: the bundled copy loads
    assert engine.encoder.name == encoder.name
    assert (engine.generation.path / "encoder" / "manifest.json").is_file()
    hits = engine.search("cordless drill", k=3, mode="dense")
    assert hits[0].doc_id == "0"


def test_verify_model_command_reports_fidelity_and_retained_quality(
    tiny: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    from tinyseek.cli import main

    code = main(["verify-model", str(tiny["path"]), "--json", "--homedepot", "/nonexistent"])
    assert code == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert report["name"] == "sample" and report["queries"] >= 50
    assert -1.0 <= report["query_cosine_p5"] <= report["query_cosine_median"] <= 1.0
    assert 0.0 < report["teacher_ndcg10"] <= 1.0
    assert report["retained"] == pytest.approx(report["artifact_ndcg10"] / report["teacher_ndcg10"])
