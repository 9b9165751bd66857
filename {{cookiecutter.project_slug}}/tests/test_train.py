from __future__ import annotations

import importlib.util
import json
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY

import train


def run(*flags: str) -> int:
    return train.main([*TINY, *flags])


def test_a_short_run_learns_and_writes_its_outputs(tiny_mnist, tmp_path, capsys):
    out = tmp_path / "run"
    # delay 0 and a slightly wider model: learning to name the current digit shows within seconds.
    flags = ["--delay", "0", "--filters", "8", "--hidden-size", "32", "--learning-rate", "5e-3", "--warmup-epochs", "0"]
    assert run("--data-dir", str(tiny_mnist), "--output-dir", str(out), "--epochs", "8", *flags) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    history = metrics["history"]
    assert metrics["epochs_completed"] == 8 == len(history)
    assert history[-1]["train_loss"] < history[0]["train_loss"] - 0.3  # chance level is ln(10) = 2.30
    assert metrics["val_delayed_accuracy"] > 0.25  # chance is 0.10
    for key in ("val_delayed_accuracy", "train_delayed_accuracy", "train_images_per_second", "num_replicas"):
        assert metrics[key] is not None and metrics[key] >= 0
    assert metrics["config"]["delay"] == 0
    steps = 8 * 10  # 200 images / (4 x 5) per step, 8 epochs
    assert tf.train.latest_checkpoint(out / "checkpoints").endswith(f"ckpt-{steps}")
    assert tf.train.latest_checkpoint(out / "checkpoints" / "best")
    assert (out / "config.json").exists()
    model = keras.models.load_model(out / "model.keras")
    assert model.output_shape == (None, None, 10)
    printed = capsys.readouterr().out
    if importlib.util.find_spec("{{ cookiecutter.package_name }}.visualize"):
        assert list((out / "logs" / "train").glob("events.out.tfevents.*"))
        assert (out / "curves.png").exists() and (out / "examples.png").exists()
    else:  # baked with tensorboard=no: says so, draws nothing
        assert "figures are off" in printed
        assert not (out / "logs").exists() and not (out / "curves.png").exists()
    assert "epoch 8/8" in printed and "val_acc" in printed


def test_running_again_resumes_from_the_last_checkpoint(tiny_mnist, tmp_path, capsys):
    out = tmp_path / "run"
    common = ("--data-dir", str(tiny_mnist), "--output-dir", str(out))
    assert run(*common, "--epochs", "1") == 0
    first = json.loads((out / "metrics.json").read_text())
    assert run(*common, "--epochs", "2") == 0
    assert "resuming from" in capsys.readouterr().out
    second = json.loads((out / "metrics.json").read_text())
    assert second["epochs_completed"] == 2
    assert second["history"][0] == first["history"][0]  # continued, not restarted


def test_resuming_with_another_model_shape_names_the_setting(tiny_mnist, tmp_path, capsys):
    out = tmp_path / "run"
    common = ("--data-dir", str(tiny_mnist), "--output-dir", str(out), "--epochs", "1")
    assert run(*common) == 0
    assert run(*common, "--hidden-size", "8", "--epochs", "2") == 1
    assert "--hidden-size" in capsys.readouterr().err
    assert run(*common, "--hidden-size", "8", "--no-resume") == 0


def test_missing_data_is_one_line_and_exit_1(tmp_path, capsys):
    assert run("--data-dir", str(tmp_path / "nope"), "--output-dir", str(tmp_path / "run")) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "nope" in err and "\n" not in err


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--epochs", "-1"], "--epochs"),
        (["--delay", "5"], "--delay"),
        (["--batch-size", "0"], "--batch-size"),
        (["--gpus", "two"], "--gpus"),
    ],
)
def test_invalid_flags_are_argparse_errors(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run(*flags)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_dry_run_prints_the_plan_and_trains_nothing(tmp_path, capsys):
    assert run("--dry-run", "--output-dir", str(tmp_path / "run")) == 0
    printed = capsys.readouterr().out
    assert "replicas" in printed and "per replica" in printed and "all-reduce" in printed
    assert not (tmp_path / "run").exists()


def test_help_lists_every_flag_with_its_default(capsys):
    with pytest.raises(SystemExit):
        train.main(["--help"])
    text = capsys.readouterr().out
    for flag in ("--data-dir", "--epochs", "--batch-size", "--delay", "--seed", "--no-resume", "--output-dir"):
        assert flag in text
    delay_help = re.search(r"--delay DELAY\s+(.*?)\n  -", text, re.S).group(1)
    assert "(default: {{ cookiecutter.delay }})" in " ".join(delay_help.split())


def test_model_is_the_one_trained(tiny_mnist, tmp_path):
    out = tmp_path / "run"
    assert run("--data-dir", str(tiny_mnist), "--output-dir", str(out), "--epochs", "1") == 0
    model = keras.models.load_model(out / "model.keras")
    images = np.zeros((1, 5, 28, 28, 1), "float32")
    assert np.isfinite(np.asarray(model(images))).all()


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_trains_with_float32_logits(tiny_mnist, tmp_path, precision):
    out = tmp_path / "run"
    assert run("--data-dir", str(tiny_mnist), "--output-dir", str(out), "--epochs", "1", "--precision", precision) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert np.isfinite(metrics["train_loss"]) and metrics["config"]["precision"] == metrics["precision"] == precision
    # Trained in reduced precision, saved and exported as float32: portable, full precision.
    model = keras.models.load_model(out / "model.keras")
    assert model.get_layer("per_step_encoder").compute_dtype == "float32"
    served = tf.saved_model.load(str(out / "saved_model"))
    images = np.random.default_rng(0).uniform(0, 255, (1, 5, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(served.serve(images)), np.asarray(model(images)), atol=1e-5)
    assert keras.mixed_precision.global_policy().name == "float32"  # training leaves no global state


def test_auto_precision_resolves_to_what_the_machine_computes_fast(tiny_mnist, tmp_path):
    from {{ cookiecutter.package_name }}.trainer import cpu_has_bfloat16

    out = tmp_path / "run"
    assert run("--data-dir", str(tiny_mnist), "--output-dir", str(out), "--epochs", "1") == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["precision"] == "auto"
    assert metrics["precision"] == ("mixed_bfloat16" if cpu_has_bfloat16() else "float32")
