"""Shared helpers: the template's path, baking, and reading baked trees."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parents[1]
PACKAGE = "{{cookiecutter.package_name}}"

RECURRENCES = ("lstm", "gru", "simple_rnn", "conv_lstm", "conv_rnn")
# Leftover template syntax: a workflow's ${{ }} is legitimate, anything else is not.
LEFTOVER = ("{{ cookiecutter", "{{cookiecutter", "{%", "{#")


def baked_files(project: Path) -> set[str]:
    return {
        p.relative_to(project).as_posix()
        for p in project.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts
    }


def expected_files(package: str, recurrence: str, num_gpus: str, tensorboard: str, license: str = "MIT") -> set[str]:
    """The exact file set of a baked project for these answers."""
    files = {
        ".cookiecutter-replay.json",
        ".github/workflows/ci.yml",
        ".gitignore",
        ".pre-commit-config.yaml",
        "README.md",
        "pyproject.toml",
        "prepare_data.py",
        "train.py",
        "evaluate.py",
        "predict.py",
        f"{package}/__init__.py",
        f"{package}/config.py",
        f"{package}/data.py",
        f"{package}/model.py",
        f"{package}/trainer.py",
        "tests/conftest.py",
        "tests/test_data.py",
        "tests/test_model.py",
        "tests/test_prepare_data.py",
        "tests/test_train.py",
        "tests/test_bad_input.py",
        "tests/test_resume.py",
        "tests/test_use.py",
    }
    if license != "none":
        files.add("LICENSE")
    if recurrence == "conv_rnn":
        files |= {f"{package}/conv_rnn.py", "tests/test_conv_rnn.py"}
    if num_gpus not in ("0", "1"):
        files |= {f"{package}/distribute.py", "tests/test_distribute.py"}
    if tensorboard == "yes":
        files |= {f"{package}/visualize.py", "tests/test_visualize.py"}
    return files


def leftover_template_syntax(project: Path) -> list[str]:
    found = []
    for path in sorted(project.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            text = path.read_text(errors="replace")
            found += [f"{path.relative_to(project)}: {m}" for m in LEFTOVER if m in text]
    return found


def run(cmd: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def ruff(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "ruff", *args], cwd=cwd)


@pytest.fixture
def bake(cookies):
    """Bake the template with these answers; fail the test if baking fails."""

    def _bake(**answers):
        result = cookies.bake(extra_context={k: str(v) for k, v in answers.items()}, template=str(TEMPLATE))
        assert result.exit_code == 0, f"bake failed for {answers}: {result.exception}"
        return result.project_path

    return _bake
