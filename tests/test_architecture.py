"""The package's shape: dependencies run one way, the runtime needs no torch, a missing extra
fails at once with the install command, and `import tinyseek` stays light."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

BLOCKED = ("torch", "sentence_transformers", "transformers", "onnx", "snorkel")
# Installed first in each child process: importing any of BLOCKED (or of the names in
# $TINYSEEK_TEST_BLOCK) fails as if it were not installed.
BLOCKER = f"""
import os
import sys

class BlockTrainingStack:
    blocked = {BLOCKED!r} + tuple(os.environ.get("TINYSEEK_TEST_BLOCK", "").split())

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.blocked:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)
        return None

sys.meta_path.insert(0, BlockTrainingStack())
"""

RUNTIME_SCENARIO = """
import time
from pathlib import Path

from fastapi.testclient import TestClient

from tinyseek import Engine, Product, build_index, load_encoder, read_catalog
from tinyseek.api import Settings, create_app
from tinyseek.resources import sample_catalog

artifact, index_dir = sys.argv[1], Path(sys.argv[2])
encoder = load_encoder(artifact)
products = [p for p in read_catalog(sample_catalog()) if isinstance(p, Product)]
stats = build_index(products, index_dir, encoder)
assert stats.products == len(products) > 1000, stats

engine = Engine.open(index_dir)
for mode in ("bm25", "dense", "hybrid"):
    hits = engine.search("sofa", k=5, mode=mode)
    assert len(hits) == 5, (mode, hits)

with TestClient(create_app(Settings(index_dir=index_dir))) as client:
    deadline = time.monotonic() + 60
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, client.get("/readyz").json()
        time.sleep(0.1)
    response = client.get("/search", params={"q": "sofa", "k": 3})
    assert response.status_code == 200, response.text
    assert len(response.json()["hits"]) == 3

loaded = sorted(m for m in sys.modules if m.partition(".")[0] in BlockTrainingStack.blocked)
assert not loaded, loaded
print("runtime ok")
"""


def _python(
    code: str, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
        check=False,
    )


def test_import_contracts_hold() -> None:
    """Layers (cli > training > api | eval > indexer > search > models > base modules) and
    no torch / sentence-transformers / onnx / snorkel in the runtime (pyproject.toml)."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
    assert done.stdout.count(" KEPT") == 2, done.stdout


def test_runtime_indexes_searches_and_serves_without_the_training_stack(
    tiny: dict[str, object], tmp_path: Path
) -> None:
    done = _python(
        BLOCKER + RUNTIME_SCENARIO, str(tiny["path"]), str(tmp_path / "index"), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("runtime ok")


CLI = BLOCKER + "from tinyseek.cli import main\nsys.exit(main(sys.argv[1:]))\n"


@pytest.mark.parametrize(
    ("command", "extra"),
    [
        (["build-model", "--default"], "train"),
        (["adapt", "CATALOG", "--out", "adapted"], "adapt"),
        (["index", "CATALOG", "--out", "index", "--encoder", "teacher"], "train"),
        (["eval", "sample", "--encoders", "teacher", "--out", "report"], "train"),
        (["eval", "sample", "--encoders", "ARTIFACT", "--out", "report"], "eval"),
    ],
)
def test_a_missing_extra_fails_first_with_the_install_command(
    command: list[str], extra: str, tiny: dict[str, object], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    paths = {"CATALOG": str(REPO / "sample_data" / "corpus.jsonl"), "ARTIFACT": str(tiny["path"])}
    argv = [paths.get(arg, arg) for arg in command]
    home = tmp_path / "home"
    env = {"TINYSEEK_HOME": str(home), "TINYSEEK_TEST_BLOCK": "matplotlib"}
    done = _python(CLI, *argv, cwd=work, env=env)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # one line, no traceback
    assert f"pip install 'tinyseek[{extra}]'" in lines[0]
    assert list(work.iterdir()) == [] and not home.exists()  # no work was done


def test_import_tinyseek_loads_nothing_heavy(tmp_path: Path) -> None:
    code = (
        "import sys, tinyseek\n"
        "assert 'Engine' in tinyseek.__all__ and tinyseek.__version__\n"
        "from tinyseek.cli import build_parser\n"
        "build_parser()\n"
        "heavy = ('numpy', 'faiss', 'tantivy', 'onnxruntime', 'fastapi', 'torch')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = _python(code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
