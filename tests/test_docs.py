"""The README's examples run as tests, so the docs cannot rot."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def readme_blocks(language: str) -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


@pytest.fixture
def in_scratch_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "sample_data").symlink_to(REPO / "sample_data")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_readme_python_quick_start_runs(
    in_scratch_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = readme_blocks("python")
    assert blocks, "README has no python example"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3
    assert all(float(line.split()[-1]) <= 800 for line in printed)


def test_readme_command_line_examples_run(in_scratch_dir: Path, compact_home: Path) -> None:
    commands = [
        line
        for block in readme_blocks("bash")
        for line in block.splitlines()
        if line.startswith("tinyseek ")
    ]
    assert len(commands) >= 3
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TINYSEEK_HOME": str(compact_home)}
    for command in commands:
        argv = [sys.executable, "-m", "tinyseek.cli", *shlex.split(command)[1:]]
        result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 0, f"{command}\n{result.stderr[-2000:]}"
        if " search " in f" {command} ":
            assert re.search(r"^\s+1\. ", result.stdout, flags=re.M), result.stdout


def readme_commands_table() -> list[str]:
    """The commands the README's table names (`tinyseek NAME ...` and `... / --out DIR`)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Command line", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `tinyseek ")]
    return [re.match(r"\| `tinyseek ([a-z-]+)", row)[1] for row in rows]  # type: ignore[index]


def test_readme_commands_table_is_complete_and_every_help_runs() -> None:
    from tinyseek.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    listed = readme_commands_table()
    assert sorted(listed) == sorted(sub.choices), "README table vs `tinyseek --help`"
    for name, command in sub.choices.items():
        epilog = command.epilog or ""
        assert epilog.startswith("exit codes: 0 "), f"{name}: --help lists no exit codes"
        codes = [int(c) for c in re.findall(r"(?:^exit codes: |; )(\d+) ", epilog)]
        assert codes == sorted(set(codes)) and set(codes) <= set(range(11)), (name, epilog)
    for name in listed:
        done = subprocess.run(
            [sys.executable, "-m", "tinyseek.cli", name, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0 and "exit codes: 0 " in done.stdout, (name, done.stderr)


def test_maintenance_commands_do_not_claim_rejected_rows() -> None:
    """Only the commands that read catalog rows can exit 1 for rejected rows."""
    from tinyseek.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in ("compact", "rollback", "gc", "generations", "search", "serve"):
        assert "rejected" not in (sub.choices[name].epilog or ""), name
    assert "1 published, but some rows were rejected" in (sub.choices["index"].epilog or "")
