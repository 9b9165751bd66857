"""A stack of plain convolutional recurrent cells: the original design of this model.

Each layer l keeps a feature map as its state and updates it with a tanh of two
convolutions, one of its input and one of its own previous state:

    h[l, t] = tanh(conv(x[l, t], W[l]) + conv(h[l, t - 1], U[l]) + b[l]),    x[l + 1, t] = h[l, t]

Unlike ConvLSTM2D there are no gates: memory over `delay` steps must live in
the tanh state itself, which is why several cells are stacked.
"""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="{{ cookiecutter.package_name }}")
class ConvRNN(layers.Layer):
    """(B, T, H, W, C) -> (B, T, H, W, filters): every step's state of the last layer."""

    def __init__(self, filters: int, kernel_size: int = 3, num_layers: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.num_layers = num_layers
        # The input convolutions do not depend on the state: they run on all steps at once.
        self.input_convs = [
            layers.Conv2D(filters, kernel_size, padding="same", name=f"input_conv_{i}") for i in range(num_layers)
        ]
        self.state_convs = [
            layers.Conv2D(filters, kernel_size, padding="same", use_bias=False, name=f"state_conv_{i}")
            for i in range(num_layers)
        ]

    def build(self, input_shape):
        _, _, height, width, channels = input_shape
        for conv_in, conv_state in zip(self.input_convs, self.state_convs, strict=True):
            conv_in.build((None, height, width, channels))
            conv_state.build((None, height, width, self.filters))
            channels = self.filters

    def call(self, inputs):
        x = inputs
        for conv_in, conv_state in zip(self.input_convs, self.state_convs, strict=True):
            shape = ops.shape(x)  # (B, T, H, W, C)
            projected = conv_in(ops.reshape(x, (-1, shape[2], shape[3], shape[4])))  # (B*T, H, W, F)
            projected = ops.reshape(projected, (shape[0], shape[1], shape[2], shape[3], self.filters))
            time_major = ops.moveaxis(projected, 1, 0)  # (T, B, H, W, F): scan runs over the first axis

            def step(state, projected_t, conv_state=conv_state):
                new_state = ops.tanh(projected_t + conv_state(state))
                return new_state, new_state

            initial = ops.zeros_like(time_major[0])
            _, states = ops.scan(step, initial, time_major)
            x = ops.moveaxis(states, 0, 1)  # (B, T, H, W, F)
        return x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "num_layers": self.num_layers,
        }
