"""Speed, memory and time-to-accuracy of the default baked project, against plain Keras.

    python benchmarks/bench.py --idx-dir ../shared/data/mnist     # real MNIST (about 6 minutes)
    python benchmarks/bench.py                                     # the 5,000-digit offline sample
    python benchmarks/bench.py --tiny                              # seconds; what the test runs

Bakes the default project into a temporary folder, writes mnist_png/ with its prepare_data.py
and measures, on this machine:

  train      images/s of the project's training step (custom tf.function loop, tf.data input)
  baseline   images/s of the same architecture trained by plain `keras.Model.fit` on in-memory
             numpy arrays with default settings (masked steps through sample_weight)
  pipeline   images/s of the input pipeline alone once its cache is warm, and its ratio to `train`
  decode     first pass over the PNGs: the project's pipeline vs keras.utils.image_dataset_from_directory
  accuracy   `python train.py` with default flags: wall time until 99.0% validation delayed
             accuracy, the final accuracy, and the peak resident memory of that process

Each image of a sequence counts once. Prints one table; writes the same figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]


def bake(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", str(TEMPLATE), "-o", str(out)],
        check=True,
        capture_output=True,
    )
    return out / "sequential-mnist"


def prepare(project: Path, idx_dir: str | None, tiny: bool) -> None:
    source = ["--source", "idx", "--idx-dir", idx_dir] if idx_dir else ["--source", "sample"]
    if tiny:
        source = ["--source", "sample"]
    subprocess.run([sys.executable, "prepare_data.py", *source], cwd=project, check=True, capture_output=True)


def measure_in_process(project: Path, steps: int, rounds: int) -> dict:
    """Training step, fit baseline, pipeline and first-pass decode, in this process."""
    sys.path.insert(0, str(project))
    os.chdir(project)
    import keras
    import numpy as np
    import tensorflow as tf
    from sequential_mnist.config import Config
    from sequential_mnist.data import SequenceData, list_split
    from sequential_mnist.model import build_model
    from sequential_mnist.trainer import Trainer

    cfg = Config(output_dir=str(project / "runs" / "bench"), tensorboard=False)
    images_per_step = cfg.batch_size * cfg.sequence_length
    results = {}

    # First pass over the PNGs: ours (decode + cache fill) vs image_dataset_from_directory.
    for path in Path("mnist_png/training").rglob("*.png"):  # warm the OS file cache for both
        path.read_bytes()
    split = list_split("mnist_png", "training")
    start = time.perf_counter()
    data = SequenceData(split, cfg.sequence_length, cfg.delay, cfg.batch_size)
    for _ in data.epoch(0):
        pass
    results["decode_ours_images_per_s"] = len(split) / (time.perf_counter() - start)
    start = time.perf_counter()
    reference = keras.utils.image_dataset_from_directory(
        "mnist_png/training", color_mode="grayscale", image_size=(28, 28), batch_size=images_per_step, verbose=False
    )
    count = sum(int(x.shape[0]) for x, _ in reference)
    results["decode_keras_images_per_s"] = count / (time.perf_counter() - start)

    # The input pipeline alone, cache warm.
    start, count = time.perf_counter(), 0
    for epoch in (1, 2):
        for images, _, _ in data.epoch(epoch):
            count += int(images.shape[0]) * int(images.shape[1])
    results["pipeline_images_per_s"] = count / (time.perf_counter() - start)

    # The project's training step, through its own loop and pipeline: with its defaults
    # (--precision auto) and in float32. Then the baseline: the same architecture, plain
    # `fit` on numpy arrays with Keras' defaults (float32, batch_size 32 = ours). Each is timed
    # `rounds` times after a warm-up; medians are reported (a shared 2-core machine is noisy).
    def time_ours(precision: str) -> tuple[list[float], str]:
        trainer = Trainer(Config(**{**vars(cfg), "precision": precision}), tf.distribute.OneDeviceStrategy("/cpu:0"))
        trainer.train_data = data  # share the warm cache
        iterator = iter(trainer.strategy.experimental_distribute_dataset(data.epoch(3).repeat()))
        trainer._train_steps(iterator, tf.constant(5)).numpy()  # trace and warm up
        rates = []
        for _ in range(rounds):
            start = time.perf_counter()
            trainer._train_steps(iterator, tf.constant(steps)).numpy()
            rates.append(steps * images_per_step / (time.perf_counter() - start))
        return rates, trainer.precision

    ours, results["train_precision"] = time_ours("auto")
    ours_float32, _ = time_ours("float32")

    keras.mixed_precision.set_global_policy("float32")
    batches = list(data.epoch(4).take(steps))
    x, y, w = (np.concatenate([b[i].numpy() for b in batches]) for i in range(3))
    model = build_model(cfg.recurrence, cfg.filters, cfg.hidden_size, cfg.dropout)
    model.compile(
        optimizer=keras.optimizers.Adam(cfg.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )

    class EpochTimer(keras.callbacks.Callback):
        rates: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if epoch:  # epoch 0 traces the step function
                self.rates.append(steps * images_per_step / (time.perf_counter() - self.start))

    timer = EpochTimer()
    model.fit(x, y, sample_weight=w, batch_size=cfg.batch_size, epochs=rounds + 1, verbose=0, callbacks=[timer])
    results["train_images_per_s"] = float(np.median(ours))
    results["train_float32_images_per_s"] = float(np.median(ours_float32))
    results["baseline_images_per_s"] = float(np.median(timer.rates))
    results["rounds"] = {"ours": ours, "ours_float32": ours_float32, "baseline": timer.rates}
    return results


def measure_training_run(project: Path, flags: list[str], target: float) -> dict:
    """`python train.py` as a user runs it: wall time to `target`, final accuracy, peak memory."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "train.py", "--output-dir", "runs/bench-run", "--no-resume", *flags],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    reached, epochs = None, 0
    for line in process.stdout:
        match = re.match(r"epoch (\d+)/\d+ .* val_acc ([\d.]+)%", line)
        if match:
            epochs = int(match.group(1))
            if reached is None and float(match.group(2)) >= 100 * target:
                reached = {"seconds": time.perf_counter() - start, "epoch": epochs}
    process.wait()
    total = time.perf_counter() - start
    metrics = json.loads((project / "runs" / "bench-run" / "metrics.json").read_text())
    return {
        "target_accuracy": target,
        "time_to_target_s": reached and reached["seconds"],
        "epoch_of_target": reached and reached["epoch"],
        "final_val_delayed_accuracy": metrics["val_delayed_accuracy"],
        "epochs": metrics["epochs_completed"],
        "wall_time_s": total,
        # ru_maxrss of finished children, in KiB on Linux: the training process is the largest.
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20,
    }


def table(r: dict) -> str:
    run = r["run"]
    decode_ratio = r["decode_ours_images_per_s"] / r["decode_keras_images_per_s"]
    to_target = (
        f"{run['time_to_target_s']:.0f} s (epoch {run['epoch_of_target']})"
        if run["time_to_target_s"]
        else "not reached"
    )
    rows = [
        (
            "training (ours, defaults)",
            f"{r['train_images_per_s']:,.0f} images/s",
            f"ours / fit = {r['train_images_per_s'] / r['baseline_images_per_s']:.2f}x ({r['train_precision']})",
        ),
        (
            "training (ours, float32)",
            f"{r['train_float32_images_per_s']:,.0f} images/s",
            f"ours float32 / fit = {r['train_float32_images_per_s'] / r['baseline_images_per_s']:.2f}x",
        ),
        ("Keras fit baseline", f"{r['baseline_images_per_s']:,.0f} images/s", "float32, batch_size 32"),
        (
            "input pipeline (cached)",
            f"{r['pipeline_images_per_s']:,.0f} images/s",
            f"pipeline / training = {r['pipeline_images_per_s'] / r['train_images_per_s']:.1f}x",
        ),
        (
            "first PNG pass (ours)",
            f"{r['decode_ours_images_per_s']:,.0f} images/s",
            f"ours / image_dataset_from_directory = {decode_ratio:.2f}x",
        ),
        ("first PNG pass (Keras)", f"{r['decode_keras_images_per_s']:,.0f} images/s", ""),
        (
            f"time to {100 * run['target_accuracy']:.1f}%",
            to_target,
            f"final {100 * run['final_val_delayed_accuracy']:.2f}% after {run['epochs']} epochs, "
            f"{run['wall_time_s']:.0f} s",
        ),
        ("peak memory (train.py)", f"{run['peak_rss_gb']:.2f} GB", ""),
    ]
    width = max(len(a) for a, _, _ in rows)
    lines = [f"{a:<{width}}  {b:>22}  {c}" for a, b, c in rows]
    return "\n".join([r["machine"], *lines])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idx-dir", help="MNIST IDX files (train-*); default: the offline sample")
    parser.add_argument("--steps", type=int, default=100, help="training steps timed for ours and the baseline")
    parser.add_argument("--rounds", type=int, default=3, help="turns of ours / baseline timing; medians reported")
    parser.add_argument("--target", type=float, default=0.99, help="validation delayed accuracy to time")
    parser.add_argument("--tiny", action="store_true", help="a few steps on the sample: checks the benchmark runs")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/bench.json"), help="where to write")
    args = parser.parse_args(argv)
    json_path = args.json.resolve()
    steps = 5 if args.tiny else args.steps
    flags = ["--epochs", "1", "--steps-per-epoch", "3"] if args.tiny else []
    with tempfile.TemporaryDirectory() as tmp:
        project = bake(Path(tmp))
        prepare(project, args.idx_dir, args.tiny)
        results = measure_in_process(project, steps, 1 if args.tiny else args.rounds)
        results["run"] = measure_training_run(project, flags, args.target)
    import tensorflow as tf

    results["machine"] = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"TensorFlow {tf.__version__}, data: {'IDX ' + args.idx_dir if args.idx_dir and not args.tiny else 'sample'}"
    )
    print(table(results))
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
