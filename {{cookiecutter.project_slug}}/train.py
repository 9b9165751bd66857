"""Train the delayed-recall model: at every step, name the digit seen `delay` steps earlier.

    python prepare_data.py                 # writes mnist_png/ (download, or the offline sample)
    python train.py                        # CPU or one GPU: ~99.2% validation delayed accuracy,
                                           # about 1.5 minutes on 2 CPU cores (LSTM, full MNIST)
    python train.py --epochs 2 --steps-per-epoch 50   # a quick smoke run
    python train.py --dry-run              # devices, strategy and batch split, then exit
{%- if cookiecutter.num_gpus not in ["0", "1"] %}
    python train.py --gpus all             # every visible GPU, MirroredStrategy + NCCL all-reduce;
                                           # same accuracy, --batch-size is the global batch
    python train.py --gpus 0 --cpu-replicas 2   # the multi-replica path on a CPU
    TF_CONFIG='{"cluster": ..., "task": ...}' python train.py   # several machines: README.md
{%- endif %}

Outputs go to --output-dir (default runs/default): checkpoints/, logs/ (TensorBoard),
config.json, metrics.json, model.keras and saved_model/. The same command again resumes.
"""

from __future__ import annotations

import sys

from {{ cookiecutter.package_name }}.config import SettingsError, parse_args
from {{ cookiecutter.package_name }}.data import DataError
{%- if cookiecutter.num_gpus in ["0", "1"] %}
from {{ cookiecutter.package_name }}.trainer import TrainingError, describe_strategy, train
from {{ cookiecutter.package_name }}.trainer import single_device_strategy as make_strategy
{%- else %}
from {{ cookiecutter.package_name }}.distribute import make_strategy
from {{ cookiecutter.package_name }}.trainer import TrainingError, describe_strategy, train
{%- endif %}
{%- if cookiecutter.tensorboard == "yes" %}
from {{ cookiecutter.package_name }}.visualize import Visualizer


def make_observers(cfg) -> list:
    """TensorBoard summaries and PNG figures, unless --no-tensorboard."""
    return [Visualizer()] if cfg.tensorboard else []
{%- else %}


def make_observers(cfg) -> list:
    """This project was baked with tensorboard=no: no summaries, no figures."""
    if cfg.tensorboard:
        raise SettingsError("--tensorboard: this project was baked with tensorboard=no (no visualization module)")
    print("TensorBoard summaries and figures are off (baked with tensorboard=no)")
    return []
{%- endif %}


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv, description=__doc__.split("\n\n")[0])
    try:
        strategy = make_strategy(cfg)
        if cfg.dry_run:
            print(describe_strategy(strategy, cfg))
            return 0
        train(cfg, strategy, make_observers(cfg))
    except (DataError, SettingsError, TrainingError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; run the same command again to resume from the last checkpoint", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
