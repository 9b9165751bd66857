"""Kill -9 at any moment, run the same command again: training continues where it was."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from conftest import TINY

import {{ cookiecutter.package_name }}.model  # noqa: F401  registers the custom layers for load_model

# 200 training images, batches of 2 sequences of 5: 20 steps per epoch.
FLAGS = [*TINY, "--batch-size", "2", "--checkpoint-every", "7", "--no-tensorboard", "--seed", "3"]


def command(data_dir, out, epochs: int) -> list[str]:
    return [
        sys.executable,
        "train.py",
        *FLAGS,
        "--data-dir",
        str(data_dir),
        "--output-dir",
        str(out),
        "--epochs",
        str(epochs),
    ]


def latest_step(out) -> int:
    state = out / "checkpoints" / "checkpoint"
    match = re.search(r'^model_checkpoint_path: "ckpt-(\d+)"', state.read_text(), re.M) if state.exists() else None
    return int(match.group(1)) if match else 0


def weights(out) -> list[np.ndarray]:
    return keras.models.load_model(out / "model.keras").get_weights()


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(tiny_mnist, tmp_path):
    epochs = 6  # 120 steps
    straight = tmp_path / "straight"
    done = subprocess.run(command(tiny_mnist, straight, epochs), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    killed = tmp_path / "killed"
    process = subprocess.Popen(command(tiny_mnist, killed, epochs), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    # Kill mid-epoch, once a checkpoint that is not at an epoch end exists (steps 35, 42, 49, 56, 63, 77, ...).
    while latest_step(killed) < 30 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = latest_step(killed)
    assert killed_at % 20, f"checkpoint {killed_at} is at an epoch end; the test wants mid-epoch"

    again = subprocess.run(command(tiny_mnist, killed, epochs), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"ckpt-{killed_at}" in again.stdout and "resuming from" in again.stdout

    # Same data order (it depends only on seed and epoch), same dropout random state and
    # optimizer state from the checkpoint: the result is the uninterrupted run's, bit for bit.
    for a, b in zip(weights(straight), weights(killed), strict=True):
        np.testing.assert_array_equal(a, b)
    history = [json.loads((out / "metrics.json").read_text())["history"] for out in (straight, killed)]
    assert len(history[1]) == epochs
    for a, b in zip(*history, strict=True):
        assert a["train_loss"] == b["train_loss"] and a["val_delayed_accuracy"] == b["val_delayed_accuracy"]


@pytest.mark.slow
def test_two_runs_with_the_same_seed_give_the_same_metrics(tiny_mnist, tmp_path):
    results = []
    for name in ("a", "b"):
        run = subprocess.run(command(tiny_mnist, tmp_path / name, 2), capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
        history = json.loads((tmp_path / name / "metrics.json").read_text())["history"]
        results.append(
            [{k: v for k, v in h.items() if k not in ("seconds", "train_images_per_second")} for h in history]
        )
    assert results[0] == results[1]
    other = subprocess.run(
        command(tiny_mnist, tmp_path / "c", 1) + ["--seed", "4"], capture_output=True, text=True, timeout=300
    )
    assert other.returncode == 0
    history = json.loads((tmp_path / "c" / "metrics.json").read_text())["history"]
    assert history[0]["train_loss"] != results[0][0]["train_loss"]  # the seed matters
