"""Per-step conv encoder -> recurrence -> per-step 10-way head.

    images (B, T, 28, 28, 1), pixel values 0..255
      -> encoder, the same for every step      (B, T, 4, 4, 2F) feature maps
      -> recurrence over the steps              (B, T, H) or (B, T, 4, 4, C)
      -> head                                   (B, T, 10) logits

The logits at step t depend only on the images up to step t (every recurrence
here runs forwards), so the model can only name a digit it has already seen.
"""

from __future__ import annotations

import keras
from keras import layers
{%- if cookiecutter.recurrence == "conv_rnn" %}

from .conv_rnn import ConvRNN
{%- endif %}

NUM_CLASSES = 10
CONV_RECURRENCES = ("conv_lstm", "conv_rnn")


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
    x = layers.TimeDistributed(build_encoder(filters), name="per_step_encoder")(x)  # (B, T, 4, 4, 2F)
    if recurrence in CONV_RECURRENCES:
        # The recurrent state is itself a feature map; it sees where strokes are.
        x = build_recurrence(recurrence, hidden_size // 4)(x)  # (B, T, 4, 4, H/4)
        x = layers.TimeDistributed(layers.Flatten(), name="flatten")(x)  # (B, T, 4H)
        x = layers.Dropout(dropout)(x)
    else:
        x = layers.TimeDistributed(layers.Flatten(), name="flatten")(x)  # (B, T, 32F)
        x = layers.Dense(hidden_size, activation="relu", name="embed")(x)  # (B, T, H)
        x = layers.Dropout(dropout)(x)
        x = build_recurrence(recurrence, hidden_size)(x)  # (B, T, H)
    # float32 logits even under a mixed-precision policy: the softmax stays accurate.
    logits = layers.Dense(NUM_CLASSES, dtype="float32", name="logits")(x)  # (B, T, 10)
    return keras.Model(images, logits, name=f"delayed_{recurrence}")
