"""TensorBoard summaries and PNG figures: see what the model sees and how it learns.

    tensorboard --logdir runs            # then open http://localhost:6006

Written under <output-dir>:
    logs/train, logs/validation   scalars (loss, delayed accuracy, learning rate, images/s),
                                  an image strip of validation sequences every epoch,
                                  weight and recurrent-state histograms every few epochs
    logs/                         the configuration as text; hyper-parameters and final metrics (HParams)
    curves.png, examples.png      the same pictures without TensorBoard, at the end of training

`Visualizer` is an observer of the Trainer; the trainer itself never imports this module.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorboard.plugins.hparams import api as hparams_api  # noqa: E402

RIGHT, WRONG, NO_TARGET = "#1a7f37", "#cf222e", "#8c959f"


# -- figures -----------------------------------------------------------------------------------
def draw_sequences(images, targets, mask, probs, delay: int, max_steps: int = 15) -> plt.Figure:
    """A strip per sequence: each image with the digit seen `delay` steps earlier and the guess.

    images (N, T, 28, 28, 1), targets and mask (N, T), probs (N, T, 10).
    Right guesses are green, wrong ones red; steps without a target are greyed out.
    Drawn as one mosaic in one Axes: an Axes per image would be ten times slower.
    """
    images, targets, mask, probs = (np.asarray(a) for a in (images, targets, mask, probs))
    rows, steps = images.shape[0], min(images.shape[1], max_steps)
    tile, pad, label = 28, 4, 22  # pixels: image, gap, room for the label above each row
    height, width = tile + label, tile + pad
    canvas = np.ones((rows * height, steps * width))  # white; digits drawn dark on it
    fig, ax = plt.subplots(figsize=(0.62 * steps + 0.3, 0.97 * rows + 0.7))
    for r in range(rows):
        for t in range(steps):
            top, left = r * height + label, t * width + pad // 2
            digit = 1.0 - images[r, t, :, :, 0] / 255.0
            canvas[top : top + tile, left : left + tile] = digit if mask[r, t] else 1.0 - 0.3 * (1.0 - digit)
            if mask[r, t]:
                guess = int(probs[r, t].argmax())
                color = RIGHT if guess == targets[r, t] else WRONG
                text = f"{targets[r, t]}→{guess}\n{100 * probs[r, t, guess]:.0f}%"
                ax.add_patch(plt.Rectangle((left - 1, top - 1), tile + 1, tile + 1, fill=False, ec=color, lw=1.5))
            else:
                color, text = NO_TARGET, "no\ntarget"
            ax.text(left + tile / 2, top - 2, text, ha="center", va="bottom", fontsize=7, color=color, linespacing=0.9)
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([t * width + pad // 2 + tile / 2 for t in range(steps)], [f"t={t}" for t in range(steps)], fontsize=7)
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(f"validation sequences: true digit from {delay} steps earlier → guess (probability)", fontsize=9)
    fig.tight_layout()
    return fig


def draw_curves(history: list[dict]) -> plt.Figure:
    """Loss and delayed accuracy per epoch, training and validation."""
    epochs = [h["epoch"] for h in history]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    loss_ax.plot(epochs, [h["train_loss"] for h in history], "o-", label="training")
    loss_ax.plot(epochs, [h["val_loss"] for h in history], "s-", label="validation")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy (steps with a target)", title="loss", yscale="log")
    acc_ax.plot(epochs, [100 * h["train_delayed_accuracy"] for h in history], "o-", label="training")
    acc_ax.plot(epochs, [100 * h["val_delayed_accuracy"] for h in history], "s-", label="validation")
    best = max(history, key=lambda h: h["val_delayed_accuracy"])
    acc_ax.annotate(
        f"{100 * best['val_delayed_accuracy']:.2f}%",
        (best["epoch"], 100 * best["val_delayed_accuracy"]),
        textcoords="offset points",
        xytext=(0, -16),
        ha="center",
    )
    # Zoom on where the curves end up: the first epochs' low accuracy would flatten the rest.
    late = [
        100 * h[k] for h in history[len(history) // 4 :] for k in ("train_delayed_accuracy", "val_delayed_accuracy")
    ]
    acc_ax.set_ylim(max(0.0, min(late) - 1.0), 100.1)
    acc_ax.set(xlabel="epoch", ylabel="delayed accuracy (%)", title="delayed accuracy (zoomed on the late epochs)")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend()
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    return fig


def figure_to_array(fig: plt.Figure) -> np.ndarray:
    """(H, W, 4) uint8 RGBA, for tf.summary.image."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return tf.io.decode_png(buffer.getvalue(), channels=4).numpy()


def save_figure(fig: plt.Figure, path: Path) -> None:
    fig.savefig(path, dpi=120)
    plt.close(fig)


# -- the observer ------------------------------------------------------------------------------
class Visualizer:
    """Writes summaries while the Trainer runs and the PNG figures at the end (chief only)."""

    def __init__(self, num_examples: int = 4):
        self.num_examples = num_examples

    def on_train_begin(self, trainer) -> None:
        cfg, logs = trainer.cfg, Path(trainer.cfg.output_dir) / "logs"
        self.log_every, self.histogram_every = cfg.log_every, cfg.histogram_every
        self.writers = {
            "train": tf.summary.create_file_writer(str(logs / "train")),
            "validation": tf.summary.create_file_writer(str(logs / "validation")),
            "run": tf.summary.create_file_writer(str(logs)),
        }
        self.examples = None  # a fixed batch of validation sequences, drawn every epoch
        self.last_logged = int(trainer.optimizer.iterations.numpy())
        self.state_model = keras.Model(trainer.model.inputs, trainer.model.get_layer(cfg.recurrence).output)
        with self.writers["run"].as_default(step=int(trainer.epoch.numpy())):
            tf.summary.text("config", f"```\n{cfg.to_json()}\n```")
            hparams_api.hparams(
                {
                    "recurrence": cfg.recurrence,
                    "delay": cfg.delay,
                    "sequence_length": cfg.sequence_length,
                    "hidden_size": cfg.hidden_size,
                    "filters": cfg.filters,
                    "batch_size": cfg.batch_size,
                    "learning_rate": cfg.learning_rate,
                    "epochs": cfg.epochs,
                    "replicas": trainer.strategy.num_replicas_in_sync,
                },
                trial_id=str(Path(cfg.output_dir).resolve()),
            )

    def on_step_end(self, trainer, step: int, loss: float) -> None:
        # Called every few steps (the trainer runs several per call): log when a multiple of
        # log_every was passed; `loss` is the mean over the steps since the previous call.
        if step // self.log_every > self.last_logged // self.log_every:
            with self.writers["train"].as_default(step=step):
                tf.summary.scalar("step/loss", loss)
            self.last_logged = step

    def on_epoch_end(self, trainer, record: dict) -> None:
        epoch = record["epoch"]
        if self.examples is None:  # after the first validation pass, which filled the cache
            self.examples = trainer.example_batch(self.num_examples)
        with self.writers["train"].as_default(step=epoch):
            tf.summary.scalar("epoch/loss", record["train_loss"])
            tf.summary.scalar("epoch/delayed_accuracy", record["train_delayed_accuracy"])
            tf.summary.scalar("epoch/learning_rate", record["learning_rate"])
            tf.summary.scalar("epoch/images_per_second", record["train_images_per_second"])
            if self.histogram_every and (epoch % self.histogram_every == 0 or epoch == trainer.cfg.epochs):
                for weight in trainer.model.trainable_weights:
                    tf.summary.histogram(f"weights/{weight.path}", np.asarray(weight))
                states = self.state_model(self.examples[0], training=False)
                tf.summary.histogram("activations/recurrent_state", states)
        with self.writers["validation"].as_default(step=epoch):
            tf.summary.scalar("epoch/loss", record["val_loss"])
            tf.summary.scalar("epoch/delayed_accuracy", record["val_delayed_accuracy"])
            fig = self._examples_figure(trainer, rows=1)
            tf.summary.image("examples", figure_to_array(fig)[None], max_outputs=1)
        for writer in self.writers.values():
            writer.flush()

    def on_train_end(self, trainer) -> None:
        out = Path(trainer.cfg.output_dir)
        if trainer.history:
            save_figure(draw_curves(trainer.history), out / "curves.png")
            with self.writers["run"].as_default(step=trainer.history[-1]["epoch"]):
                for key in ("val_delayed_accuracy", "train_delayed_accuracy", "val_loss"):
                    tf.summary.scalar(f"final/{key}", trainer.history[-1][key])
        save_figure(self._final_examples_figure(trainer), out / "examples.png")
        for writer in self.writers.values():
            writer.close()
        print(f"figures: {out / 'curves.png'} and {out / 'examples.png'}")
        print(f"TensorBoard: tensorboard --logdir {out / 'logs'}")

    def _final_examples_figure(self, trainer) -> plt.Figure:
        """Validation sequences, those with a mistake first: they say most about the model."""
        images, targets, mask = trainer.example_batch(64)
        probs = tf.nn.softmax(trainer.model(images, training=False), axis=-1).numpy()
        wrong = ((probs.argmax(-1) != targets.numpy()) & (mask.numpy() > 0)).any(axis=1)
        order = np.argsort(~wrong, kind="stable")[: self.num_examples]
        pick = [t.numpy()[order] for t in (images, targets, mask)]
        return draw_sequences(*pick, probs[order], trainer.cfg.delay)

    def _examples_figure(self, trainer, rows: int) -> plt.Figure:
        images, targets, mask = (t[:rows] for t in self.examples)
        probs = tf.nn.softmax(trainer.model(images, training=False), axis=-1)
        return draw_sequences(images, targets, mask, probs, trainer.cfg.delay)
