from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from {{ cookiecutter.package_name }}.conv_rnn import ConvRNN
from {{ cookiecutter.package_name }}.model import build_model


def test_each_state_is_tanh_of_input_and_previous_state_convolutions():
    layer = ConvRNN(3, kernel_size=3, num_layers=1)
    x = np.random.default_rng(0).normal(size=(2, 4, 5, 5, 2)).astype("float32")
    states = np.asarray(layer(x))
    conv_in, conv_state = layer.input_convs[0], layer.state_convs[0]
    h = np.zeros((2, 5, 5, 3), "float32")
    for t in range(4):
        h = np.tanh(np.asarray(conv_in(x[:, t])) + np.asarray(conv_state(h)))
        np.testing.assert_allclose(states[:, t], h, atol=1e-5)


def test_stacked_layers_keep_the_feature_map_shape():
    layer = ConvRNN(6, num_layers=3)
    assert layer(np.zeros((1, 7, 4, 4, 8), "float32")).shape == (1, 7, 4, 4, 6)


def test_a_conv_rnn_model_reloads_from_a_keras_file(tmp_path):
    model = build_model("conv_rnn", filters=4, hidden_size=16)
    images = tf.random.uniform((1, 5, 28, 28, 1), 0, 255, seed=1)
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(np.asarray(model(images)), np.asarray(reloaded(images)), atol=1e-6)
