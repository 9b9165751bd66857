"""Per-step conv encoder -> recurrence -> per-step 10-way head.

    images (B, T, 28, 28, 1), pixel values 0..255
      -> encoder, the same for every step      (B, T, 4, 4, 2F) feature maps
      -> recurrence over the steps              (B, T, H) or (B, T, 4, 4, C)
      -> head                                   (B, T, 10) logits

The logits at step t depend only on the images up to step t (every recurrence
here runs forwards), so the model can only name a digit it has already seen.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
from keras import layers, ops

from .config import Config, SettingsError
{%- if cookiecutter.recurrence == "conv_rnn" %}
from .conv_rnn import ConvRNN
{%- endif %}

NUM_CLASSES = 10
CONV_RECURRENCES = ("conv_lstm", "conv_rnn")


@keras.saving.register_keras_serializable(package="{{ cookiecutter.package_name }}")
class PerStep(layers.Wrapper):
    """Apply `layer` to every step at once, folding time into the batch:
    (B, T, ...) -> (B*T, ...) -> layer -> (B, T, ...).

    One big convolution instead of keras.layers.TimeDistributed's loop over steps; it also
    keeps the time axis dynamic in exported SavedModels.
    """

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build((None, *input_shape[2:]))
        self.built = True

    def call(self, inputs, training=None):
        batch, steps = ops.shape(inputs)[0], ops.shape(inputs)[1]
        folded = ops.reshape(inputs, (-1, *inputs.shape[2:]))  # (B*T, ...)
        outputs = self.layer(folded, training=training)
        return ops.reshape(outputs, (batch, steps, *outputs.shape[1:]))  # (B, T, ...)

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None, *input_shape[2:]))
        return (input_shape[0], input_shape[1], *inner[1:])


def build_encoder(filters: int) -> keras.Sequential:
    """28x28x1 -> 4x4x(2*filters): two 5x5 conv + max-pool blocks (LeNet-like, cheap on CPUs)."""
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(filters, 5, activation="relu"),  # 24x24
            layers.MaxPooling2D(),  # 12x12
            layers.Conv2D(2 * filters, 5, activation="relu"),  # 8x8
            layers.MaxPooling2D(),  # 4x4
        ],
        name="encoder",
    )


def build_recurrence(recurrence: str, units: int) -> layers.Layer:
    """The recurrent layer. The LSTM and GRU keep Keras' defaults (tanh, sigmoid, no recurrent
    dropout, no unroll, GRU reset_after) so that they run on cuDNN on GPUs."""
    if recurrence == "lstm":
        return layers.LSTM(units, return_sequences=True, name="lstm")
    if recurrence == "gru":
        return layers.GRU(units, return_sequences=True, name="gru")
    if recurrence == "simple_rnn":
        return layers.SimpleRNN(units, return_sequences=True, name="simple_rnn")
    if recurrence == "conv_lstm":
        return layers.ConvLSTM2D(units, 3, padding="same", return_sequences=True, name="conv_lstm")
{%- if cookiecutter.recurrence == "conv_rnn" %}
    if recurrence == "conv_rnn":
        return ConvRNN(units, kernel_size=3, num_layers=2, name="conv_rnn")
{%- endif %}
    raise ValueError(f"unknown recurrence {recurrence!r}")


def build_model(
    recurrence: str,
    filters: int = 32,
    hidden_size: int = 128,
    dropout: float = 0.25,
    sequence_length: int | None = None,
) -> keras.Model:
    """The whole model. sequence_length=None accepts sequences of any length."""
    images = keras.Input((sequence_length, 28, 28, 1), name="images")
    x = layers.Rescaling(1.0 / 255)(images)
    x = PerStep(build_encoder(filters), name="per_step_encoder")(x)  # (B, T, 4, 4, 2F)
    if recurrence in CONV_RECURRENCES:
        # The recurrent state is itself a feature map; it sees where strokes are.
        x = build_recurrence(recurrence, hidden_size // 4)(x)  # (B, T, 4, 4, H/4)
        x = layers.Reshape((-1, 4 * 4 * (hidden_size // 4)), name="flatten")(x)  # (B, T, 4H)
        x = layers.Dropout(dropout)(x)
    else:
        x = layers.Reshape((-1, 4 * 4 * 2 * filters), name="flatten")(x)  # (B, T, 32F)
        x = layers.Dense(hidden_size, activation="relu", name="embed")(x)  # (B, T, H)
        x = layers.Dropout(dropout)(x)
        x = build_recurrence(recurrence, hidden_size)(x)  # (B, T, H)
    # float32 logits even under a mixed-precision policy: the softmax stays accurate.
    logits = layers.Dense(NUM_CLASSES, dtype="float32", name="logits")(x)  # (B, T, 10)
    return keras.Model(images, logits, name=f"delayed_{recurrence}")


def load_trained(model_path: str | Path) -> tuple[keras.Model, Config]:
    """A saved model.keras and the configuration it was trained with (config.json beside it;
    the baked defaults when there is none)."""
    model_path = Path(model_path)
    if not model_path.is_file():
        raise SettingsError(f"--model {model_path}: no such file; train first (python train.py)")
    config_path = model_path.parent / "config.json"
    cfg = Config()
    if config_path.exists():
        saved = json.loads(config_path.read_text())
        known = {f.name for f in dataclasses.fields(Config)}
        cfg = Config(**{k: v for k, v in saved.items() if k in known})
    return keras.models.load_model(model_path), cfg
