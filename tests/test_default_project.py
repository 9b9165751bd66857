"""The default rendering: its tree, its code quality, its own test suite."""

from __future__ import annotations

import json
import re
import sys
import tomllib

import pytest
from conftest import TEMPLATE, baked_files, expected_files, leftover_template_syntax, ruff, run


@pytest.fixture(scope="module")
def default_project(cookies_session):
    result = cookies_session.bake(template=str(TEMPLATE))
    assert result.exit_code == 0, result.exception
    return result.project_path


def test_default_bake_has_the_expected_tree(default_project):
    assert default_project.name == "sequential-mnist"
    assert baked_files(default_project) == expected_files("sequential_mnist", "lstm", "all", "yes")


def test_no_template_syntax_is_left(default_project):
    assert leftover_template_syntax(default_project) == []


def test_ruff_lint_and_format_pass(default_project):
    lint = ruff("check", ".", cwd=default_project)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = ruff("format", "--check", ".", cwd=default_project)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_defaults_come_from_the_answers(default_project):
    pyproject = tomllib.loads((default_project / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "sequential-mnist"
    config = (default_project / "sequential_mnist" / "config.py").read_text()
    assert 'recurrence: str = _setting("lstm"' in config
    assert "delay: int = _setting(3," in config


def test_answers_are_recorded_for_rebaking(default_project):
    replay = json.loads((default_project / ".cookiecutter-replay.json").read_text())["cookiecutter"]
    assert replay["recurrence"] == "lstm" and replay["delay"] == "3" and replay["num_gpus"] == "all"
    assert not any(key.startswith("__") or key in ("_output_dir", "_repo_dir") for key in replay)


def test_baked_project_passes_its_own_tests(default_project):
    result = run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"], cwd=default_project, timeout=900
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary) and not re.search(r"\d+ (failed|error)", summary), summary


def test_template_ci_and_ci_script_run_the_readme_test_command():
    readme = (TEMPLATE / "README.md").read_text()
    command = next(line.strip() for line in (TEMPLATE / ".ci" / "run").read_text().splitlines() if "pytest" in line)
    assert command in readme
    assert "bash .ci/run" in (TEMPLATE / ".github" / "workflows" / "ci.yml").read_text()
