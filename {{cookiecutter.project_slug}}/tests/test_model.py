from __future__ import annotations

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.config import RECURRENCES
from {{ cookiecutter.package_name }}.model import build_model


@pytest.mark.parametrize("recurrence", RECURRENCES)
def test_model_maps_a_sequence_to_per_step_logits(recurrence):
    model = build_model(recurrence, filters=4, hidden_size=16)
    images = np.random.default_rng(0).uniform(0, 255, (2, 7, 28, 28, 1)).astype("float32")
    assert model(images).shape == (2, 7, 10)


@pytest.mark.parametrize("recurrence", RECURRENCES)
def test_a_step_never_sees_later_images(recurrence):
    model = build_model(recurrence, filters=4, hidden_size=16)
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 255, (1, 6, 28, 28, 1)).astype("float32")
    changed = images.copy()
    changed[:, 4:] = rng.uniform(0, 255, (1, 2, 28, 28, 1))  # new images from step 4 on
    before, after = np.asarray(model(images)), np.asarray(model(changed))
    np.testing.assert_allclose(before[:, :4], after[:, :4], atol=1e-5)
    assert not np.allclose(before[:, 4:], after[:, 4:])
