"""Run images through a trained model as one sequence and print what it recalls at each step.

    python predict.py mnist_png/testing/7/0.png mnist_png/testing/2/1.png ...   # in this order
    python predict.py some_folder/                                             # its .png files, sorted
    python predict.py --model runs/gru/model.keras a.png b.png c.png d.png

At step t the model names the digit of the image seen at step t - delay; the first
`delay` steps have nothing to recall yet.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from {{ cookiecutter.package_name }}.config import SettingsError  # noqa: E402
from {{ cookiecutter.package_name }}.data import DataError, inspect_png  # noqa: E402
from {{ cookiecutter.package_name }}.model import load_trained  # noqa: E402


def image_paths(inputs: list[Path]) -> list[Path]:
    """Files as given; a folder contributes its .png files in sorted order."""
    paths: list[Path] = []
    for item in inputs:
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.suffix.lower() == ".png")
            if not found:
                raise DataError(f"{item}: no .png images in this folder")
            paths += found
        elif item.is_file():
            paths.append(item)
        else:
            raise DataError(f"{item}: no such file or folder")
    for path in paths:
        verdict = inspect_png(str(path))
        if verdict not in ("ok", "convert"):
            raise DataError(f"{path}: {verdict}")
    return paths


def predict(model, paths: list[Path]) -> np.ndarray:
    """(T, 10) probabilities for the images as one sequence."""
    import tensorflow as tf

    from {{ cookiecutter.package_name }}.data import decode_image

    images = tf.stack([decode_image(tf.constant(str(p))) for p in paths])[None]  # (1, T, 28, 28, 1)
    logits = model(tf.cast(images, tf.float32), training=False)
    return tf.nn.softmax(logits, axis=-1).numpy()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("images", nargs="+", type=Path, help="PNG files, or folders of them")
    parser.add_argument("--model", type=Path, default=Path("runs/default/model.keras"), help="a trained model.keras")
    parser.add_argument("--delay", type=int, default=None, help="default: as trained (config.json beside the model)")
    args = parser.parse_args(argv)
    try:
        paths = image_paths(args.images)
        model, cfg = load_trained(args.model)
    except (DataError, SettingsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    delay = cfg.delay if args.delay is None else args.delay
    if delay < 0:
        parser.error(f"--delay must be 0 or more, got {delay}")
    probs = predict(model, paths)
    width = max(len(str(p)) for p in paths)
    print(f"{'step':>4}  {'image':<{width}}  recalls (the image {delay} steps earlier)")
    for t, (path, p) in enumerate(zip(paths, probs, strict=True)):
        if t < delay:
            print(f"{t:>4}  {str(path):<{width}}  -  (nothing seen {delay} steps earlier yet)")
        else:
            digit = int(p.argmax())
            print(f"{t:>4}  {str(path):<{width}}  {digit}  p={p[digit]:.3f}  (image {t - delay}: {paths[t - delay]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
