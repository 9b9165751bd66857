"""Every setting of a run, in one dataclass.

The defaults are the answers given when this project was baked; command-line
flags override them (``python train.py --help`` lists them all). The resolved
configuration is written next to the checkpoints as ``config.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

RECURRENCES = ("lstm", "gru", "simple_rnn", "conv_lstm"{% if cookiecutter.recurrence == "conv_rnn" %}, "conv_rnn"{% endif %})

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")

# Settings a run cannot resume under other values of: they change the model's shape, its
# optimizer's structure, or the data and steps that the checkpoint's counters refer to.
RESUME_SETTINGS = ("recurrence", "filters", "hidden_size", "sequence_length", "delay", "batch_size", "seed")


class SettingsError(Exception):
    """A setting that cannot work with this data, these devices or this output dir."""


def _setting(default, help, **argparse_kwargs):
    return field(default=default, metadata={"help": help, **argparse_kwargs})


@dataclass
class Config:
    # Data.
    data_dir: str = _setting("mnist_png", "mnist_png/{training,testing}/<digit>/<n>.png root")
    sequence_length: int = _setting({{ cookiecutter.sequence_length }}, "images per sequence")
    delay: int = _setting({{ cookiecutter.delay }}, "name the digit seen this many steps earlier")
    skip_bad_images: bool = _setting(False, "skip (and count) files that are not PNG or are truncated")

    # Model.
    recurrence: str = _setting("{{ cookiecutter.recurrence }}", "recurrent layer", choices=RECURRENCES)
    filters: int = _setting(32, "channels of the first conv layer (the second has twice as many)")
    hidden_size: int = _setting(128, "width of the per-image embedding and of the recurrent state")
    dropout: float = _setting(0.25, "dropout on the per-image embedding, training only")
    precision: str = _setting(
        "auto",
        "auto: mixed_bfloat16 on CPUs with bfloat16 instructions (measured 1.4x faster here, same accuracy), "
        "else float32; or float32, mixed_float16 (GPU tensor cores, loss scaling), mixed_bfloat16. "
        "Logits and softmax stay float32",
        choices=("auto", *PRECISIONS),
    )

    # Optimisation.
    epochs: int = _setting(12, "passes over the training split")
    steps_per_epoch: int = _setting(0, "stop each epoch after this many steps (0: the whole split)")
    batch_size: int = _setting(32, "sequences per step, over all replicas (the global batch)")
    learning_rate: float = _setting(4e-3, "peak learning rate of the warm-up + cosine schedule")
    warmup_epochs: float = _setting(0.5, "linear warm-up length, in epochs")
    seed: int = _setting(0, "seed of weights, dropout and data order")
    deterministic: bool = _setting(False, "deterministic TensorFlow ops: identical runs for a seed (slower)")

    # Devices.
    gpus: str = _setting("{{ cookiecutter.num_gpus }}", "GPUs to train on: 'all' or a number (0: CPU only)")
    cpu_replicas: int = _setting(1, "split the CPU into N logical devices and mirror over them")

    # Output.
    output_dir: str = _setting("runs/default", "checkpoints, logs, metrics.json and model.keras go here")
    resume: bool = _setting(True, "resume from the latest checkpoint in --output-dir")
    checkpoint_every: int = _setting(100, "also checkpoint every N steps within an epoch (0: at epoch ends only)")
    keep_checkpoints: int = _setting(3, "keep the last N checkpoints (and the best one, in checkpoints/best)")
    tensorboard: bool = _setting({{ "True" if cookiecutter.tensorboard == "yes" else "False" }}, "TensorBoard summaries and PNG figures (the visualization module)")
    log_every: int = _setting(25, "TensorBoard: training loss every N steps")
    histogram_every: int = _setting(2, "TensorBoard: weight and recurrent-state histograms every N epochs (0: off)")
    dry_run: bool = _setting(False, "print devices, strategy and batch split, then exit")

    def validate(self) -> None:
        """Raise ValueError naming the first flag with an impossible value."""
        positive = ("sequence_length", "epochs", "batch_size", "filters", "hidden_size")
        positive += ("cpu_replicas", "keep_checkpoints", "log_every")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"--{_flag(name)} must be at least 1, got {getattr(self, name)}")
        if self.sequence_length > 1000:
            raise ValueError(f"--sequence-length must be at most 1000, got {self.sequence_length}")
        if not 0 <= self.delay < self.sequence_length:
            raise ValueError(f"--delay must be in [0, sequence_length) = [0, {self.sequence_length}), got {self.delay}")
        if self.histogram_every < 0:
            raise ValueError(f"--histogram-every must be 0 (off) or more, got {self.histogram_every}")
        if self.checkpoint_every < 0:
            raise ValueError(f"--checkpoint-every must be 0 (epoch ends only) or more, got {self.checkpoint_every}")
        if self.steps_per_epoch < 0:
            raise ValueError(f"--steps-per-epoch must be 0 (whole split) or more, got {self.steps_per_epoch}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.learning_rate <= 0:
            raise ValueError(f"--learning-rate must be positive, got {self.learning_rate}")
        if self.warmup_epochs < 0:
            raise ValueError(f"--warmup-epochs must be 0 or more, got {self.warmup_epochs}")
        if self.gpus != "all" and not (self.gpus.isdigit()):
            raise ValueError(f"--gpus must be 'all' or a number of GPUs (0: CPU only), got {self.gpus!r}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_json() + "\n")


def _flag(name: str) -> str:
    return name.replace("_", "-")


def build_parser(description: str | None = None) -> argparse.ArgumentParser:
    """One flag per Config field, with the field's default and help."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for f in dataclasses.fields(Config):
        meta = dict(f.metadata)
        if f.type in ("bool", bool):
            parser.add_argument(f"--{_flag(f.name)}", action=argparse.BooleanOptionalAction, default=f.default, **meta)
        else:
            kind = {"int": int, "float": float, "str": str}[f.type]
            parser.add_argument(f"--{_flag(f.name)}", type=kind, default=f.default, **meta)
    return parser


def parse_args(argv: list[str] | None = None, description: str | None = None) -> Config:
    """Flags -> a validated Config; a bad value is an argparse error (exit 2)."""
    parser = build_parser(description)
    cfg = Config(**vars(parser.parse_args(argv)))
    try:
        cfg.validate()
    except ValueError as err:
        parser.error(str(err))
    return cfg
