from __future__ import annotations

import json

import pytest
import tensorflow as tf
from conftest import TINY
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import train


@pytest.fixture(scope="module")
def run_dir(tiny_mnist, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert (
        train.main(
            [*TINY, "--data-dir", str(tiny_mnist), "--output-dir", str(out), "--epochs", "2", "--log-every", "5"]
        )
        == 0
    )
    return out


def events(path):
    acc = EventAccumulator(str(path), size_guidance={"tensors": 0, "images": 0, "histograms": 0})
    acc.Reload()
    return acc


def test_event_files_hold_scalars_images_histograms_and_hparams(run_dir):
    train_tags = events(run_dir / "logs" / "train").Tags()["tensors"]
    for tag in ("epoch/loss", "epoch/delayed_accuracy", "epoch/learning_rate", "epoch/images_per_second"):
        assert tag in train_tags
    assert any(t.startswith("weights/") for t in train_tags)
    steps = [e.step for e in events(run_dir / "logs" / "train").Tensors("step/loss")]
    assert steps and steps == sorted(steps) and steps[-1] >= 15  # 2 epochs of 10 steps, every 5
    assert "activations/recurrent_state" in train_tags
    val_tags = events(run_dir / "logs" / "validation").Tags()["tensors"]
    assert {"epoch/loss", "epoch/delayed_accuracy", "examples"} <= set(val_tags)
    run = events(run_dir / "logs")
    assert "config" in run.Tags()["tensors"]
    assert "_hparams_/session_start_info" in run.Tags()["tensors"]
    accuracy = [e.step for e in events(run_dir / "logs" / "validation").Tensors("epoch/delayed_accuracy")]
    assert accuracy == [1, 2]


@pytest.mark.parametrize("name, min_size", [("curves.png", (600, 250)), ("examples.png", (400, 300))])
def test_figures_are_drawn(run_dir, name, min_size):
    with Image.open(run_dir / name) as image:
        assert image.size[0] >= min_size[0] and image.size[1] >= min_size[1]
        assert len(image.getcolors(maxcolors=1 << 20) or range(1 << 20)) > 10  # not a blank canvas


def test_metrics_agree_with_the_logged_accuracy(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text())

    last = events(run_dir / "logs" / "validation").Tensors("epoch/delayed_accuracy")[-1]
    assert float(tf.make_ndarray(last.tensor_proto)) == pytest.approx(metrics["val_delayed_accuracy"], abs=1e-6)
