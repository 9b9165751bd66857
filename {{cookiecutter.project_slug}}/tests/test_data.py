from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from {{ cookiecutter.package_name }}.data import DataError, SequenceData, delayed_targets, list_split

T = 6


@pytest.mark.parametrize("delay", [0, 3, T - 1])
def test_targets_are_the_digits_seen_delay_steps_earlier(delay):
    labels = tf.constant([7, 2, 9, 4, 1, 8], tf.int32)
    targets, mask = delayed_targets(labels, tf.constant(T), T, delay)
    expected_mask = [1.0 if t >= delay else 0.0 for t in range(T)]
    assert mask.numpy().tolist() == expected_mask
    got = [int(v) for v, m in zip(targets.numpy(), mask.numpy(), strict=False) if m]
    assert got == [7, 2, 9, 4, 1, 8][: T - delay]


def test_padded_steps_of_a_short_sequence_have_no_target():
    labels = tf.constant([5, 6, 0, 0, 0, 0], tf.int32)  # two real images, padded to T
    targets, mask = delayed_targets(labels, tf.constant(2), T, delay=1)
    assert mask.numpy().tolist() == [0, 1, 1, 0, 0, 0]
    assert targets.numpy()[1:3].tolist() == [5, 6]


def test_list_split_finds_every_digit(tiny_mnist):
    split = list_split(tiny_mnist, "training")
    assert len(split) == 200
    assert np.bincount(split.labels).tolist() == [20] * 10
    assert split.strays == split.converted == split.unreadable == 0


def key(image) -> bytes:
    """Identify an image by its pixels."""
    return np.asarray(image, np.uint8).tobytes()


def _epoch_images(data: SequenceData, epoch: int, seed: int = 0) -> list[bytes]:
    """The images of one epoch in order, blank padding left out."""
    seen = []
    for images, targets, mask in data.epoch(epoch, seed=seed):
        images, targets, mask = images.numpy(), targets.numpy(), mask.numpy()
        for b in range(images.shape[0]):
            for t in range(images.shape[1]):
                if images[b, t].any():
                    seen.append(key(images[b, t]))
    return seen


def test_each_epoch_uses_every_image_once_in_a_new_order(tiny_mnist):
    split = list_split(tiny_mnist, "testing")  # 50 images: 50 / T=6 leaves a short last sequence
    data = SequenceData(split, sequence_length=T, delay=2, batch_size=4)
    all_images = sorted(key(image) for image, _ in data.images)
    first, second = _epoch_images(data, 0), _epoch_images(data, 1)
    assert sorted(first) == all_images
    assert sorted(second) == all_images
    assert first != second
    assert _epoch_images(data, 1) == second  # the order depends only on (seed, epoch)


def test_targets_in_batches_match_the_labels_on_disk(tiny_mnist):
    split = list_split(tiny_mnist, "testing")
    by_pixels = {}
    for image, label in SequenceData(split, T, 0, 4).images:
        by_pixels[key(image)] = int(label)
    delay = 3
    data = SequenceData(split, sequence_length=T, delay=delay, batch_size=4)
    checked = 0
    for images, targets, mask in data.epoch(0):
        for b in range(images.shape[0]):
            for t in range(delay, T):
                if mask[b, t]:
                    assert int(targets[b, t]) == by_pixels[key(images[b, t - delay])]
                    checked += 1
            assert not mask[b, :delay].numpy().any()
    # 8 full sequences name their first T - delay images; the short one (2 images) names both.
    assert checked == 8 * (T - delay) + min(50 - 8 * T, T - delay)


def test_missing_data_dir_split_and_digit_are_named(tmp_path):
    with pytest.raises(DataError, match="not found"):
        list_split(tmp_path / "nowhere", "training")
    (tmp_path / "training").mkdir()
    with pytest.raises(DataError, match="testing"):
        list_split(tmp_path, "testing")
    with pytest.raises(DataError, match=r"training[/\\]0"):
        list_split(tmp_path, "training")
