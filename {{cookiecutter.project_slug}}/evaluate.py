"""Evaluate a trained model: delayed accuracy, per-digit accuracy and a confusion matrix.

    python evaluate.py                                   # runs/default/model.keras on mnist_png/testing
    python evaluate.py --model runs/gru/model.keras --data-dir other_png --split training

The delay and sequence length come from config.json beside the model (as trained);
flags override them. Writes confusion_matrix.png and evaluation.json beside the model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from {{ cookiecutter.package_name }}.config import SettingsError  # noqa: E402
from {{ cookiecutter.package_name }}.data import DataError, SequenceData, list_split  # noqa: E402
from {{ cookiecutter.package_name }}.model import load_trained  # noqa: E402
from {{ cookiecutter.package_name }}.trainer import VALIDATION_SEED  # noqa: E402


def confusion(model, data: SequenceData) -> np.ndarray:
    """10x10 counts: rows are the true delayed digits, columns the model's answers."""
    matrix = np.zeros((10, 10), np.int64)
    for images, targets, mask in data.epoch(0, seed=VALIDATION_SEED):
        guesses = np.asarray(model(images, training=False)).argmax(-1)
        keep = np.asarray(mask) > 0
        np.add.at(matrix, (np.asarray(targets)[keep], guesses[keep]), 1)
    return matrix


def draw_confusion(matrix: np.ndarray, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    rates = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(
                j, i, str(count), ha="center", va="center", fontsize=7, color="white" if rates[i, j] > 0.5 else "black"
            )
    ax.set(xticks=range(10), yticks=range(10), xlabel="answer", ylabel="true digit (delayed)", title=title)
    fig.colorbar(image, ax=ax, label="fraction of the true digit's steps")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=Path("runs/default/model.keras"), help="a trained model.keras")
    parser.add_argument("--data-dir", default="mnist_png", help="mnist_png layout root")
    parser.add_argument("--split", default="testing", choices=("testing", "training"))
    parser.add_argument("--delay", type=int, default=None, help="default: as trained")
    parser.add_argument("--sequence-length", type=int, default=None, help="default: as trained")
    parser.add_argument("--batch-size", type=int, default=64, help="sequences per batch")
    args = parser.parse_args(argv)
    try:
        model, cfg = load_trained(args.model)
        length = cfg.sequence_length if args.sequence_length is None else args.sequence_length
        delay = cfg.delay if args.delay is None else args.delay
        if length < 1:
            parser.error(f"--sequence-length must be at least 1, got {length}")
        if not 0 <= delay < length:
            parser.error(f"--delay {delay} must be in [0, sequence length {length})")
        if args.batch_size < 1:
            parser.error(f"--batch-size must be at least 1, got {args.batch_size}")
        split = list_split(args.data_dir, args.split)
        matrix = confusion(model, SequenceData(split, length, delay, args.batch_size))
    except (DataError, SettingsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1

    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    per_digit = np.diag(matrix) / np.maximum(matrix.sum(1), 1)
    print(f"{args.model} on {args.data_dir}/{args.split} ({len(split):,} images, delay {delay}, sequences of {length})")
    print(f"delayed accuracy: {100 * accuracy:.2f}% over {matrix.sum():,} steps with a target")
    print("per digit:  " + "  ".join(f"{d}: {100 * a:.1f}%" for d, a in enumerate(per_digit)))
    print("confusion matrix (rows: true delayed digit, columns: answer)")
    print("      " + "".join(f"{d:>6}" for d in range(10)))
    for d, row in enumerate(matrix):
        print(f"{d:>6}" + "".join(f"{c:>6}" for c in row))
    out = args.model.parent
    draw_confusion(matrix, f"delayed accuracy {100 * accuracy:.2f}% (delay {delay})", out / "confusion_matrix.png")
    result = {
        "delayed_accuracy": accuracy,
        "per_digit_accuracy": per_digit.tolist(),
        "confusion_matrix": matrix.tolist(),
        "data_dir": str(args.data_dir),
        "split": args.split,
        "delay": delay,
        "sequence_length": length,
    }
    (out / "evaluation.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out / 'confusion_matrix.png'} and {out / 'evaluation.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
