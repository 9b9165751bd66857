"""The pre_gen hook refuses bad answers before anything is written; hostile text cannot run."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib

import pytest
from conftest import TEMPLATE

INVALID = [
    ("project_slug", "has space", "project_slug"),
    ("project_slug", "-leading-dash", "project_slug"),
    ("project_slug", "../escape", "project_slug"),
    ("package_name", "my-package", "package_name"),
    ("package_name", "1abc", "package_name"),
    ("package_name", "class", "keyword"),
    ("package_name", "tensorflow", "shadow"),
    ("package_name", "keras", "shadow"),
    ("package_name", "numpy", "shadow"),
    ("package_name", "PIL", "shadow"),
    ("package_name", "json", "shadow"),
    ("package_name", "café", "package_name"),
    ("delay", "three", "delay"),
    ("delay", "-1", "delay"),
    ("delay", "2.5", "delay"),
    ("delay", "15", "delay"),  # == sequence_length
    ("delay", "99", "delay"),
    ("sequence_length", "0", "sequence_length"),
    ("sequence_length", "1001", "sequence_length"),
    ("sequence_length", "long", "sequence_length"),
    ("num_gpus", "-1", "num_gpus"),
    ("num_gpus", "some", "num_gpus"),
    ("num_gpus", "1.5", "num_gpus"),
]


def bake_cli(tmp_path, *answers: str) -> subprocess.CompletedProcess:
    """Bake as a user does: the cookiecutter command line, scripted with key=value answers."""
    command = [sys.executable, "-m", "cookiecutter", "--no-input", str(TEMPLATE), "-o", str(tmp_path), *answers]
    return subprocess.run(command, capture_output=True, text=True)


@pytest.mark.parametrize("key, value, named", INVALID, ids=[f"{k}={v}" for k, v, _ in INVALID])
def test_an_invalid_answer_fails_the_bake_names_it_and_leaves_nothing(tmp_path, key, value, named):
    # A bad slug would also make a bad derived package_name: give a good one to see one error.
    extra = ["package_name=ok_pkg"] if key == "project_slug" else []
    result = bake_cli(tmp_path, f"{key}={value}", *extra)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-2000:]
    assert errors[0].startswith(f"error: {key} ") and named in errors[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key, value", [("recurrence", "transformer"), ("tensorboard", "maybe")])
def test_a_choice_outside_its_list_is_refused(tmp_path, key, value):
    # cookiecutter itself refuses these on the command line, naming the variable and its choices.
    result = bake_cli(tmp_path, f"{key}={value}")
    assert result.returncode != 0
    assert f"choice variable {key}" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key, value", [("recurrence", "transformer"), ("tensorboard", "maybe"), ("delay", "20")])
def test_a_replay_file_with_a_bad_answer_is_refused_by_the_hook(tmp_path, key, value):
    # Replay files skip cookiecutter's own checks of choices; the pre_gen hook still catches them.
    good = tmp_path / "good"
    assert bake_cli(good).returncode == 0
    replay = json.loads((good / "sequential-mnist" / ".cookiecutter-replay.json").read_text())
    replay["cookiecutter"][key] = value
    replay_file = tmp_path / "bad.json"
    replay_file.write_text(json.dumps(replay))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "cookiecutter", "--replay-file", str(replay_file), str(TEMPLATE), "-o", str(out)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode != 0
    assert f"error: {key} '{value}'" in result.stderr
    assert not out.exists() or list(out.iterdir()) == []


def test_several_bad_answers_are_all_reported(tmp_path):
    result = bake_cli(tmp_path, "delay=x", "num_gpus=y")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert [e.split()[1] for e in errors] == ["delay", "num_gpus"]


HOSTILE = "O'Brien \"quoted\" \\back\\slash\nnew line '); import os; os.system('touch PWNED'); (' Zoë 数字"


def test_hostile_text_in_answers_bakes_and_does_not_run(cookies, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    context = {"project_name": HOSTILE, "author_name": HOSTILE, "description": HOSTILE}
    result = cookies.bake(extra_context=context, template=str(TEMPLATE))
    assert result.exit_code == 0, result.exception
    project = result.project_path
    assert not list(tmp_path.rglob("PWNED")) and not list(project.rglob("PWNED"))
    assert project.name.isascii() and " " not in project.name
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["description"] == HOSTILE
    assert pyproject["project"]["authors"][0]["name"] == HOSTILE
    package = pyproject["tool"]["setuptools"]["packages"][0]
    assert package.isidentifier()
    for path in project.rglob("*.py"):
        ast.parse(path.read_text(), filename=str(path))  # every Python file still parses
    replay = json.loads((project / ".cookiecutter-replay.json").read_text())
    assert replay["cookiecutter"]["project_name"] == HOSTILE


def test_recorded_answers_rebake_the_same_project(cookies, tmp_path):
    first = cookies.bake(extra_context={"recurrence": "gru", "delay": "5"}, template=str(TEMPLATE)).project_path
    replay = first / ".cookiecutter-replay.json"
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--replay-file", str(replay), str(TEMPLATE), "-o", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    second = tmp_path / first.name
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for relative in files:
        if relative.name != ".cookiecutter-replay.json":
            assert (first / relative).read_text() == (second / relative).read_text(), relative
