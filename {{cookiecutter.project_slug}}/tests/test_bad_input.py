"""Bad data and bad settings: one clear line naming the file or flag, exit 1, nothing lost."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY, write_digits
from PIL import Image

import train
from {{ cookiecutter.package_name }}.data import DataError, decode_image, list_split


@pytest.fixture
def data_dir(tmp_path):
    """A fresh copy per test (these tests damage it): 20 training and 5 testing images per digit."""
    return write_digits(tmp_path / "mnist_png", per_digit_train=20, per_digit_test=5)


def train_on(data_dir, out, *flags):
    return train.main([*TINY, "--data-dir", str(data_dir), "--output-dir", str(out), "--epochs", "1", *flags])


def one_error_line(capsys, *needles):
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error:"), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


def test_a_missing_split_is_named(data_dir, tmp_path, capsys):
    shutil.rmtree(data_dir / "testing")
    assert train_on(data_dir, tmp_path / "run") == 1
    one_error_line(capsys, "testing", "split folder missing")


def test_a_missing_digit_folder_is_named(data_dir, tmp_path, capsys):
    shutil.rmtree(data_dir / "training" / "7")
    assert train_on(data_dir, tmp_path / "run") == 1
    one_error_line(capsys, "training/7", "digit folder missing")


def test_an_empty_digit_folder_is_named(data_dir, tmp_path, capsys):
    for png in (data_dir / "testing" / "4").iterdir():
        png.unlink()
    assert train_on(data_dir, tmp_path / "run") == 1
    one_error_line(capsys, "testing/4", "no .png images")


def test_stray_entries_are_skipped_and_counted(data_dir, tmp_path, capsys):
    (data_dir / "training" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (data_dir / "training" / "3" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    (data_dir / "training" / "README").write_text("MNIST as PNG")
    (data_dir / "training" / "extras").mkdir()
    assert train_on(data_dir, tmp_path / "run") == 0
    assert "training: skipped 4 entries that are not digit folders or .png files" in capsys.readouterr().out


@pytest.mark.parametrize("damage, verdict", [("truncate", "truncated PNG"), ("text", "not a PNG image")])
def test_an_unreadable_image_is_named_or_skipped_with_a_flag(data_dir, tmp_path, capsys, damage, verdict):
    bad = sorted((data_dir / "training" / "5").iterdir())[3]
    if damage == "truncate":
        bad.write_bytes(bad.read_bytes()[:-20])
    else:
        bad.write_text("this is not an image")
    assert train_on(data_dir, tmp_path / "run") == 1
    one_error_line(capsys, str(bad), verdict, "--skip-bad-images")
    assert train_on(data_dir, tmp_path / "run", "--skip-bad-images") == 0
    assert "training: skipped 1 unreadable images" in capsys.readouterr().out


def odd_images(digit: np.ndarray) -> dict[str, Image.Image]:
    """The same digit as RGB, RGBA, 16-bit grey, palette, and 32x32."""
    grey = Image.fromarray(digit, mode="L")
    return {
        "rgb": grey.convert("RGB"),
        "rgba": grey.convert("RGBA"),
        "grey16": Image.fromarray(digit.astype(np.uint16) * 257),
        "palette": grey.convert("P"),
        "big": grey.resize((32, 32), Image.BILINEAR),
    }


def test_other_sizes_and_modes_become_28x28_grey_and_are_counted(data_dir, tmp_path, capsys):
    folder = data_dir / "training" / "8"
    digit = np.asarray(Image.open(sorted(folder.iterdir())[0]))
    for name, image in odd_images(digit).items():
        image.save(folder / f"odd-{name}.png")
    for name in ("rgb", "rgba", "grey16", "palette"):
        decoded = decode_image(tf.constant(str(folder / f"odd-{name}.png"))).numpy()
        assert decoded.shape == (28, 28, 1)
        np.testing.assert_allclose(decoded[..., 0], digit, atol=1, err_msg=name)
    big = decode_image(tf.constant(str(folder / "odd-big.png"))).numpy()
    assert big.shape == (28, 28, 1) and abs(int(big.sum()) - int(digit.sum())) < 0.1 * digit.sum()
    assert list_split(data_dir, "training").converted == 5
    assert train_on(data_dir, tmp_path / "run") == 0
    assert "training: converted 5 images of another size or mode to 28x28 grey" in capsys.readouterr().out


def test_fewer_images_than_one_batch_is_refused(data_dir, tmp_path, capsys):
    assert train_on(data_dir, tmp_path / "run", "--batch-size", "64") == 1
    one_error_line(capsys, "fewer than one batch", "--batch-size 64")


def test_an_output_dir_that_cannot_be_written_is_named(data_dir, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert train_on(data_dir, blocker / "run") == 1
    one_error_line(capsys, "--output-dir", "cannot be written")
    assert blocker.read_text() == "not a folder"


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert train_on(data_dir, out) == 0
    good = tf.train.latest_checkpoint(out / "checkpoints")
    capsys.readouterr()
    # A huge learning rate blows the weights up within a few steps of the second epoch.
    assert train_on(data_dir, out, "--epochs", "2", "--learning-rate", "1e30", "--warmup-epochs", "0") == 1
    err = one_error_line(capsys, "loss became NaN or inf at step", "last good checkpoint")
    assert good in err
    assert tf.train.latest_checkpoint(out / "checkpoints") == good
    # The kept checkpoint still resumes.
    assert train_on(data_dir, out, "--epochs", "2") == 0


def test_a_missing_data_dir_is_a_data_error():
    with pytest.raises(DataError, match="prepare_data.py"):
        list_split("/nonexistent/mnist_png", "training")
