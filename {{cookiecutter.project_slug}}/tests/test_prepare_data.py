from __future__ import annotations

import gzip

import numpy as np
import pytest
from PIL import Image

import prepare_data


def write_idx(path, array: np.ndarray, compress: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, "wb").write(data)


@pytest.fixture
def idx_dir(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    labels = np.arange(30, dtype=np.uint8) % 10
    folder = tmp_path / "idx"
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte.gz", images, compress=True)
    write_idx(folder / "train-labels-idx1-ubyte", labels, compress=False)
    return folder, images, labels


def test_idx_files_become_pngs_under_their_digit(idx_dir, tmp_path):
    folder, images, labels = idx_dir
    out = tmp_path / "mnist_png"
    assert prepare_data.main(["--source", "idx", "--idx-dir", str(folder), "--out", str(out), "--val-size", "10"]) == 0
    assert len(list((out / "training").rglob("*.png"))) == 20
    assert len(list((out / "testing").rglob("*.png"))) == 10
    # Image n of the training split is the n-th IDX image and lies under its label.
    for n in (0, 7, 19):
        png = out / "training" / str(labels[n]) / f"{n}.png"
        np.testing.assert_array_equal(np.asarray(Image.open(png)), images[n])
    # The testing split is the last 10 images.
    png = out / "testing" / str(labels[25]) / "5.png"
    np.testing.assert_array_equal(np.asarray(Image.open(png)), images[25])


def test_a_non_empty_output_dir_is_refused_and_kept(idx_dir, tmp_path, capsys):
    folder, _, _ = idx_dir
    out = tmp_path / "mnist_png"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    assert prepare_data.main(["--source", "idx", "--idx-dir", str(folder), "--out", str(out)]) == 1
    assert "--force" in capsys.readouterr().err
    assert (out / "mine.txt").read_text() == "keep me"
    assert (
        prepare_data.main(
            ["--source", "idx", "--idx-dir", str(folder), "--out", str(out), "--val-size", "5", "--force"]
        )
        == 0
    )
    assert not (out / "mine.txt").exists()


def test_a_truncated_idx_file_is_named(idx_dir, tmp_path, capsys):
    folder, _, _ = idx_dir
    path = folder / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-3])
    assert prepare_data.main(["--source", "idx", "--idx-dir", str(folder), "--out", str(tmp_path / "o")]) == 1
    assert "train-labels-idx1-ubyte" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_the_offline_sample_has_real_digits_of_every_class(tmp_path):
    out = tmp_path / "mnist_png"
    assert prepare_data.main(["--source", "sample", "--out", str(out)]) == 0
    counts = [len(list((out / "training" / str(d)).glob("*.png"))) for d in range(10)]
    assert sum(counts) == 4000 and min(counts) > 300
    assert sum(len(list((out / "testing" / str(d)).glob("*.png"))) for d in range(10)) == 1000


def test_idx_dir_alone_means_idx_and_contradictions_are_refused(idx_dir, tmp_path, capsys):
    folder, _, _ = idx_dir
    out = tmp_path / "mnist_png"
    assert prepare_data.main(["--idx-dir", str(folder), "--out", str(out), "--val-size", "10"]) == 0
    assert len(list((out / "testing").rglob("*.png"))) == 10
    with pytest.raises(SystemExit):
        prepare_data.main(["--source", "sample", "--idx-dir", str(folder), "--out", str(tmp_path / "o")])
    assert "--idx-dir is only read with --source idx" in capsys.readouterr().err
