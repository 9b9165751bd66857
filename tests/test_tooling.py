"""The tooling a baked project brings: CI workflow, pre-commit, packaging, license."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest
import yaml
from conftest import TEMPLATE, run

# The default, and a combination that prunes every optional module.
RENDERINGS = {
    "default": {},
    "pruned": {"recurrence": "gru", "num_gpus": "0", "tensorboard": "no", "license": "none"},
}


@pytest.fixture(scope="module", params=list(RENDERINGS))
def project(request, cookies_session):
    result = cookies_session.bake(extra_context=RENDERINGS[request.param], template=str(TEMPLATE))
    assert result.exit_code == 0, result.exception
    return result.project_path


def workflow_commands(project) -> list[str]:
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    steps = workflow["jobs"]["test"]["steps"]
    return [step["run"] for step in steps if "run" in step]


def test_ci_workflow_parses_and_keeps_its_expressions(project):
    text = (project / ".github" / "workflows" / "ci.yml").read_text()
    workflow = yaml.safe_load(text)
    assert workflow["jobs"]["test"]["steps"][0]["uses"].startswith("actions/checkout")
    assert "${{ github.workflow }}-${{ github.ref }}" in text  # GitHub's syntax survives baking
    # YAML reads the key `on` as True.
    assert set(workflow[True]) == {"push", "pull_request"}


def test_ci_runs_the_commands_the_readme_gives(project):
    readme = (project / "README.md").read_text()
    commands = workflow_commands(project)
    assert commands == ["pip install -e '.[cpu,dev]'", "ruff check . && ruff format --check .", "python -m pytest"]
    for command in commands:
        assert command in readme, command


def test_lint_commands_of_the_workflow_pass_on_the_baked_project(project):
    for command in workflow_commands(project)[1].split(" && "):
        result = run([sys.executable, "-m", *shlex.split(command)], cwd=project)
        assert result.returncode == 0, result.stdout + result.stderr


def test_pre_commit_runs_ruff_lint_and_format(project):
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"] for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff", "ruff-format"} <= hooks


def test_the_package_installs_without_dependencies_and_imports(project, tmp_path):
    target = tmp_path / "site"
    install = run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--target",
            str(target),
            str(project),
        ],
        cwd=tmp_path,
    )
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    package = project.name.replace("-", "_")
    check = subprocess.run(
        [sys.executable, "-c", f"import {package}.config as c, train; print(c.Config().recurrence)"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr[-2000:]
    assert check.stdout.strip() in ("lstm", "gru")


def test_gitignore_keeps_data_and_runs_out(project):
    ignored = (project / ".gitignore").read_text().split()
    assert {"mnist_png/", "runs/", "__pycache__/"} <= set(ignored)


@pytest.mark.parametrize(
    "license, first_line",
    [
        ("MIT", "MIT License"),
        ("BSD-3-Clause", "BSD 3-Clause License"),
        ("Apache-2.0", "Apache License"),
        ("none", None),
    ],
)
def test_each_license_choice_gives_its_file_or_none(cookies, license, first_line):
    result = cookies.bake(extra_context={"license": license, "author_name": "Ada Lovelace"}, template=str(TEMPLATE))
    assert result.exit_code == 0, result.exception
    path = result.project_path / "LICENSE"
    pyproject = (result.project_path / "pyproject.toml").read_text()
    if first_line is None:
        assert not path.exists()
        assert "license" not in pyproject.split("[project.optional-dependencies]")[0]
    else:
        text = path.read_text()
        assert text.strip().splitlines()[0].strip() == first_line
        assert "Ada Lovelace" in text and "{%" not in text and "[yyyy]" not in text
        assert f'license = "{license}"' in pyproject
