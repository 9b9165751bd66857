"""Using a trained model: evaluate.py, predict.py, model.keras and the SavedModel export."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY

import evaluate
import predict
from {{ cookiecutter.package_name }}.config import parse_args
from {{ cookiecutter.package_name }}.trainer import Trainer


@pytest.fixture(scope="module")
def trained(tiny_mnist, tmp_path_factory):
    """A Trainer after two epochs in float32, with its model still in memory. (bfloat16 runs
    save a float32 copy: see test_train.py's mixed-precision tests.)"""
    out = tmp_path_factory.mktemp("run")
    flags = ["--data-dir", str(tiny_mnist), "--output-dir", str(out), "--epochs", "2", "--precision", "float32"]
    cfg = parse_args([*TINY, *flags, "--no-tensorboard"])
    trainer = Trainer(cfg, tf.distribute.OneDeviceStrategy("/cpu:0"))
    trainer.fit()
    return trainer


def sample_sequence() -> np.ndarray:
    return np.random.default_rng(3).uniform(0, 255, (2, 7, 28, 28, 1)).astype("float32")


def test_model_keras_reloads_and_predicts_as_trained(trained):
    reloaded = keras.models.load_model(trained.out / "model.keras")
    x = sample_sequence()
    np.testing.assert_allclose(np.asarray(reloaded(x)), np.asarray(trained.model(x)), atol=1e-5)


def test_saved_model_export_serves_the_same_predictions(trained):
    served = tf.saved_model.load(str(trained.out / "saved_model"))
    x = sample_sequence()
    np.testing.assert_allclose(np.asarray(served.serve(x)), np.asarray(trained.model(x)), atol=1e-5)


def test_evaluate_reports_accuracy_per_digit_and_a_confusion_matrix(trained, capsys):
    model_path = trained.out / "model.keras"
    assert evaluate.main(["--model", str(model_path), "--data-dir", trained.cfg.data_dir]) == 0
    printed = capsys.readouterr().out
    assert "delayed accuracy:" in printed and "per digit:" in printed and "confusion matrix" in printed
    result = json.loads((trained.out / "evaluation.json").read_text())
    matrix = np.array(result["confusion_matrix"])
    assert matrix.shape == (10, 10)
    # 50 testing images in sequences of 5 with delay 2: every sequence names its first 3 images.
    assert matrix.sum() == 10 * 3
    assert result["delayed_accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    assert (trained.out / "confusion_matrix.png").stat().st_size > 5000


def test_evaluate_agrees_with_the_trainer(trained):
    evaluate.main(["--model", str(trained.out / "model.keras"), "--data-dir", trained.cfg.data_dir])
    result = json.loads((trained.out / "evaluation.json").read_text())
    assert result["delayed_accuracy"] == pytest.approx(trained.evaluate(trained.val_data)["delayed_accuracy"])


def test_predict_prints_each_step_and_what_it_recalls(trained, capsys):
    digits = sorted(Path(trained.cfg.data_dir, "testing").rglob("*.png"))[::10][:5]
    assert predict.main(["--model", str(trained.out / "model.keras"), *map(str, digits)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 + 5
    assert "nothing seen 2 steps earlier yet" in lines[1] and "nothing seen" in lines[2]
    for t in (2, 3, 4):
        assert f"(image {t - 2}: {digits[t - 2]})" in lines[1 + t]
        assert " p=" in lines[1 + t]


def test_predict_names_a_missing_image(trained, capsys, tmp_path):
    assert predict.main(["--model", str(trained.out / "model.keras"), str(tmp_path / "nope.png")]) == 1
    assert "nope.png: no such file or folder" in capsys.readouterr().err


def test_evaluate_names_a_missing_model(tmp_path, capsys):
    assert evaluate.main(["--model", str(tmp_path / "none.keras")]) == 1
    assert "none.keras: no such file" in capsys.readouterr().err
