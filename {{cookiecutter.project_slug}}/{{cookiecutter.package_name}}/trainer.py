"""The training loop: metrics, checkpoints, resume.

A custom tf.function loop under a tf.distribute strategy: it runs under
MultiWorkerMirroredStrategy, where Keras 3 `fit` does not, runs several steps per call,
and is as fast as `fit` in float32 here (1.4x with bfloat16, which `fit` does not choose). The order follows
TensorFlow's custom-training tutorial:

1. data: one SequenceData per split, batches of the *global* batch size;
2. model, optimizer and checkpoint are created under `strategy.scope()`;
3. `train_step` runs the per-replica step with `strategy.run` and sums the
   per-replica results with `strategy.reduce`;
4. after each epoch: validate, log, checkpoint, write metrics.json.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from .config import RESUME_SETTINGS, Config, SettingsError
from .data import DataError, SequenceData, list_split
from .model import build_model

VALIDATION_SEED = 20_240_601  # validation sequences are the same in every epoch and every run


class TrainingError(Exception):
    """Training cannot go on; the message says why and what was kept."""


def single_device_strategy(cfg: Config) -> tf.distribute.Strategy:
    """The first GPU when one is visible and wanted, else the CPU."""
    if cfg.cpu_replicas > 1:
        raise SettingsError(
            f"--cpu-replicas {cfg.cpu_replicas}: this project was baked for one device (num_gpus 0 or 1); "
            "re-bake it with num_gpus=all for several replicas"
        )
    gpus = tf.config.list_physical_devices("GPU")
    if cfg.gpus == "0" or not gpus:
        if gpus:
            tf.config.set_visible_devices([], "GPU")
        return tf.distribute.OneDeviceStrategy("/cpu:0")
    return tf.distribute.OneDeviceStrategy("/gpu:0")


def strategy_name(strategy: tf.distribute.Strategy) -> str:
    """The public name (MultiWorkerMirroredStrategy's class is CollectiveAllReduceStrategy)."""
    name = type(strategy).__name__
    return {"CollectiveAllReduceStrategy": "MultiWorkerMirroredStrategy"}.get(name, name)


def describe_strategy(strategy: tf.distribute.Strategy, cfg: Config) -> str:
    """What --dry-run prints: devices, strategy, replicas and the batch split."""
    replicas = strategy.num_replicas_in_sync
    devices = ", ".join(strategy.extended.worker_devices)
    lines = [
        f"visible devices : {', '.join(d.name for d in tf.config.list_logical_devices())}",
        f"strategy        : {strategy_name(strategy)} on {devices}",
        f"replicas        : {replicas}",
        f"global batch    : {cfg.batch_size} sequences = {cfg.batch_size * cfg.sequence_length} images",
        f"per replica     : {cfg.batch_size / replicas:g} sequences"
        + (
            ""
            if cfg.batch_size % replicas == 0
            else f"  (error: --batch-size {cfg.batch_size} must divide by {replicas})"
        ),
        f"all-reduce      : {getattr(strategy, 'all_reduce_description', 'none (one replica)')}",
    ]
    return "\n".join(lines)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Only the chief writes checkpoints, logs and results; always True on one machine."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type == "chief" or (
        task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().jobs
    )


def learning_rate_schedule(cfg: Config, steps_per_epoch: int) -> keras.optimizers.schedules.LearningRateSchedule:
    """Linear warm-up to --learning-rate, then cosine decay to zero at the last step."""
    total = max(1, cfg.epochs * steps_per_epoch)
    warmup = min(total - 1, int(cfg.warmup_epochs * steps_per_epoch))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else cfg.learning_rate,
        decay_steps=total - warmup,
        warmup_target=cfg.learning_rate if warmup else None,
        warmup_steps=warmup,
    )


def cpu_has_bfloat16() -> bool:
    """True on x86 CPUs with AVX512-BF16 or AMX-BF16 (Linux: /proc/cpuinfo)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_precision(precision: str, strategy: tf.distribute.Strategy) -> str:
    """--precision auto -> mixed_bfloat16 where the CPU computes bfloat16 natively and trains
    alone, float32 elsewhere (on GPUs, ask for mixed_float16 explicitly)."""
    if precision != "auto":
        return precision
    on_cpu = all("CPU" in device.upper() for device in strategy.extended.worker_devices)
    return "mixed_bfloat16" if on_cpu and cpu_has_bfloat16() else "float32"


def build_model_in(precision: str, cfg: Config) -> keras.Model:
    """The model with `precision` as its layers' dtype policy. Keras reads the policy from a global
    setting when layers are made: set it for the build only, so no other model inherits it."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        return build_model(cfg.recurrence, cfg.filters, cfg.hidden_size, cfg.dropout)
    finally:
        keras.mixed_precision.set_global_policy(previous)


def masked_sums(logits, targets, mask):
    """Summed cross-entropy, correct predictions and targets over the steps that have a target."""
    ce = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)  # (B, T)
    hits = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), targets), tf.float32)
    return tf.reduce_sum(ce * mask), tf.reduce_sum(hits * mask), tf.reduce_sum(mask)


# Steps run inside one tf.function call: fewer round trips between Python and the
# runtime (measured about 15% more images/s on a 2-core CPU than one step per call).
STEPS_PER_CALL = 20
NON_FINITE = "loss is NaN or inf"


class Trainer:
    def __init__(self, cfg: Config, strategy: tf.distribute.Strategy, observers: list | None = None):
        self.cfg = cfg
        self.strategy = strategy
        self.chief = is_chief(strategy)
        # Observers (TensorBoard, figures) get on_train_begin / on_step_end / on_epoch_end /
        # on_train_end calls; only the chief has any.
        self.observers = list(observers or []) if self.chief else []
        self.out = Path(cfg.output_dir)
        replicas = strategy.num_replicas_in_sync
        if cfg.batch_size % replicas:
            raise SettingsError(f"--batch-size {cfg.batch_size} must divide by the number of replicas ({replicas})")

        # 1. Data.
        self.train_split = list_split(cfg.data_dir, "training", cfg.skip_bad_images)
        self.val_split = list_split(cfg.data_dir, "testing", cfg.skip_bad_images)
        images_per_batch = cfg.batch_size * cfg.sequence_length
        if len(self.train_split) < images_per_batch:
            raise DataError(
                f"{cfg.data_dir}/training has {len(self.train_split)} images, fewer than one batch "
                f"(--batch-size {cfg.batch_size} x --sequence-length {cfg.sequence_length} = {images_per_batch})"
            )
        self.train_data = SequenceData(self.train_split, cfg.sequence_length, cfg.delay, cfg.batch_size)
        self.val_data = SequenceData(self.val_split, cfg.sequence_length, cfg.delay, cfg.batch_size)
        self.steps_per_epoch = self.train_data.steps_per_epoch
        if cfg.steps_per_epoch:
            self.steps_per_epoch = min(self.steps_per_epoch, cfg.steps_per_epoch)

        # 2. Everything that creates variables goes under the strategy scope. The optimizer is
        # built here too: Keras 3 creates its slots lazily, which a replica context cannot do.
        keras.utils.set_random_seed(cfg.seed)
        if cfg.deterministic:
            tf.config.experimental.enable_op_determinism()
        self.precision = resolve_precision(cfg.precision, strategy)
        with strategy.scope():
            self.model = build_model_in(self.precision, cfg)
            self.optimizer = keras.optimizers.Adam(learning_rate_schedule(cfg, self.steps_per_epoch))
            if self.precision == "mixed_float16":
                # float16 gradients underflow without loss scaling; bfloat16 has float32's range.
                self.optimizer = keras.optimizers.LossScaleOptimizer(self.optimizer)
            self.optimizer.build(self.model.trainable_variables)
            # Where training stands, saved with the weights so that a resumed run continues exactly:
            # the epoch, the steps done in it, its running (loss sum, hits, targets) and the best
            # validation accuracy so far. The global step is optimizer.iterations.
            self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
            self.step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_in_epoch")
            self.epoch_totals = tf.Variable(tf.zeros(3, tf.float64), trainable=False, name="epoch_totals")
            self.best_accuracy = tf.Variable(-1.0, dtype=tf.float64, trainable=False, name="best_accuracy")
        self.checkpoint = tf.train.Checkpoint(
            model=self.model,
            optimizer=self.optimizer,
            epoch=self.epoch,
            step_in_epoch=self.step_in_epoch,
            epoch_totals=self.epoch_totals,
            best_accuracy=self.best_accuracy,
            # Dropout's random state: Keras keeps it in variables that tf.train.Checkpoint does
            # not reach through the model; without it a resumed run draws other dropout masks.
            random_state=[v for v in self.model.variables if "seed_generator_state" in v.path],
        )
        # Under MultiWorkerMirroredStrategy every worker must take part in saving; only the
        # chief writes where others look, the rest write to a scratch folder that is removed.
        self.checkpoint_dir = self.out / "checkpoints"
        save_dir = self.checkpoint_dir if self.chief else Path(tempfile.mkdtemp(prefix="worker-checkpoints-"))
        self.manager = tf.train.CheckpointManager(self.checkpoint, save_dir, max_to_keep=cfg.keep_checkpoints)
        self.best_manager = tf.train.CheckpointManager(self.checkpoint, save_dir / "best", max_to_keep=1)

        element_spec = strategy.experimental_distribute_dataset(self.train_data.epoch(0)).element_spec
        self._train_steps = tf.function(self._distributed_train_steps)
        self._eval_step = tf.function(self._distributed_eval_step, input_signature=[element_spec])
        self.history: list[dict] = []

    # -- steps ---------------------------------------------------------------------------
    def _replica_train_step(self, images, targets, mask):
        # The loss is averaged over the targets of the *global* batch: each replica divides its
        # sum by the all-reduced count, and the optimizer sums the replicas' gradients.
        count = tf.distribute.get_replica_context().all_reduce("sum", tf.reduce_sum(mask))
        with tf.GradientTape() as tape:
            logits = self.model(images, training=True)
            loss_sum, hits, n = masked_sums(logits, targets, mask)
            loss = loss_sum / tf.maximum(count, 1.0)
            loss = tf.debugging.check_numerics(loss, NON_FINITE)  # stop before the weights are spoilt
            scaled = self.optimizer.scale_loss(loss)  # the loss itself unless mixed_float16
        grads = tape.gradient(scaled, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables, strict=True))
        return tf.stack([loss_sum, hits, n])

    def _distributed_train_steps(self, iterator, num_steps):
        totals = tf.zeros(3)
        for _ in tf.range(num_steps):
            per_replica = self.strategy.run(self._replica_train_step, args=next(iterator))
            totals += self.strategy.reduce("sum", per_replica, axis=None)
        return totals

    def _replica_eval_step(self, images, targets, mask):
        return tf.stack(masked_sums(self.model(images, training=False), targets, mask))

    def _distributed_eval_step(self, batch):
        per_replica = self.strategy.run(self._replica_eval_step, args=batch)
        return self.strategy.reduce("sum", per_replica, axis=None)

    # -- loops ---------------------------------------------------------------------------
    def evaluate(self, data: SequenceData) -> dict:
        totals = np.zeros(3)
        # A fixed random order: the split on disk is sorted by digit, and sequences of one
        # digit would make the delay trivial.
        for batch in self.strategy.experimental_distribute_dataset(data.epoch(0, seed=VALIDATION_SEED)):
            totals += self._eval_step(batch).numpy()
        loss_sum, hits, n = totals
        return {"loss": loss_sum / max(n, 1), "delayed_accuracy": hits / max(n, 1)}

    def train_epoch(self, epoch: int) -> dict:
        """Train the rest of `epoch` (all of it unless resuming mid-epoch)."""
        cfg = self.cfg
        done = int(self.step_in_epoch.numpy())
        # The epoch's order depends only on (seed, epoch): a resumed run skips what it already did.
        dataset = self.train_data.epoch(epoch, seed=cfg.seed).take(self.steps_per_epoch).skip(done)
        iterator = iter(self.strategy.experimental_distribute_dataset(dataset))
        show_bar = self.chief and sys.stdout.isatty()  # logs get the one-line summary only
        progbar = keras.utils.Progbar(self.steps_per_epoch, stateful_metrics=["loss", "acc"], verbose=int(show_bar))
        first, start = done, time.perf_counter()
        while done < self.steps_per_epoch:
            global_step = int(self.optimizer.iterations.numpy())
            n = min(STEPS_PER_CALL, self.steps_per_epoch - done)
            if cfg.checkpoint_every:
                n = min(n, cfg.checkpoint_every - global_step % cfg.checkpoint_every)
            try:
                sums = self._train_steps(iterator, tf.constant(n))
            except tf.errors.InvalidArgumentError as err:
                if NON_FINITE not in err.message:
                    raise
                kept = tf.train.latest_checkpoint(self.checkpoint_dir) or "none yet"
                step = int(self.optimizer.iterations.numpy()) + 1
                raise TrainingError(
                    f"loss became NaN or inf at step {step} (epoch {epoch + 1}); stopped before updating "
                    f"the weights with it; the last good checkpoint is {kept}. Try a lower --learning-rate"
                ) from None
            done += n
            self.epoch_totals.assign_add(tf.cast(sums, tf.float64))
            self.step_in_epoch.assign(done)
            global_step += n
            loss_sum, hits, count = self.epoch_totals.numpy()
            progbar.update(done, [("loss", loss_sum / max(count, 1)), ("acc", hits / max(count, 1))])
            self._notify("on_step_end", global_step, float(sums[0] / tf.maximum(sums[2], 1.0)))
            if cfg.checkpoint_every and global_step % cfg.checkpoint_every == 0 and done < self.steps_per_epoch:
                self.save()
        seconds = time.perf_counter() - start
        loss_sum, hits, count = self.epoch_totals.numpy()
        images_in_epoch = min(self.steps_per_epoch * cfg.batch_size * cfg.sequence_length, len(self.train_split))
        images = images_in_epoch * (done - first) / self.steps_per_epoch
        return {
            "loss": loss_sum / max(count, 1),
            "delayed_accuracy": hits / max(count, 1),
            "images_per_second": images / max(seconds, 1e-9),
            "seconds": seconds,
        }

    def save(self, best: bool = False) -> None:
        """Checkpoint on every worker (a collective under MultiWorkerMirroredStrategy); only the
        chief's copy is kept. A checkpoint becomes 'latest' only once fully written."""
        self.manager.save(checkpoint_number=self.optimizer.iterations)
        if best:
            self.best_manager.save(checkpoint_number=self.optimizer.iterations)
        if not self.chief:
            shutil.rmtree(self.manager.directory, ignore_errors=True)

    def restore(self) -> int:
        """Resume from the latest checkpoint if asked to; returns the epoch to continue."""
        latest = tf.train.latest_checkpoint(self.checkpoint_dir)
        if latest and not self.cfg.resume:
            if self.chief:
                self._set_previous_run_aside()
            return 0
        if not latest:
            return 0
        config_path = self.out / "config.json"
        if config_path.exists():
            saved = json.loads(config_path.read_text())
            for name in RESUME_SETTINGS:
                if name in saved and saved[name] != getattr(self.cfg, name):
                    raise SettingsError(
                        f"--{name.replace('_', '-')} is {getattr(self.cfg, name)!r} but the checkpoints in "
                        f"{self.checkpoint_dir} were written with {saved[name]!r}; use that value, another "
                        "--output-dir, or --no-resume to start over"
                    )
        self.checkpoint.restore(latest).assert_existing_objects_matched()
        metrics_path = self.out / "metrics.json"
        if metrics_path.exists():
            self.history = json.loads(metrics_path.read_text()).get("history", [])
        self.history = self.history[: int(self.epoch.numpy())]
        print(
            f"resuming from {latest}: epoch {int(self.epoch.numpy()) + 1}, step "
            f"{int(self.step_in_epoch.numpy())} of {self.steps_per_epoch} done"
        )
        return int(self.epoch.numpy())

    def _set_previous_run_aside(self) -> None:
        """--no-resume keeps what an earlier run wrote, moved to <output-dir>/previous-<time>/."""
        aside = self.out / time.strftime("previous-%Y%m%d-%H%M%S")
        earlier = [p for p in self.out.iterdir() if not p.name.startswith("previous-")]
        aside.mkdir(parents=True)
        for path in earlier:
            path.rename(aside / path.name)
        print(f"--no-resume: moved the earlier run's checkpoints and logs to {aside}")

    def fit(self) -> dict:
        cfg = self.cfg
        first_epoch = self.restore()
        if self.chief:
            self._prepare_output_dir()
            cfg.save(self.out / "config.json")
        self._notify("on_train_begin")
        print(
            f"training {cfg.recurrence}, delay {cfg.delay}: {len(self.train_split):,} training and "
            f"{len(self.val_split):,} validation images, {self.steps_per_epoch} steps of "
            f"{cfg.batch_size} x {cfg.sequence_length} images per epoch, "
            f"{self.strategy.num_replicas_in_sync} replica(s), {self.precision}"
        )
        for line in self.train_split.report(cfg.data_dir) + self.val_split.report(cfg.data_dir):
            print(line)
        for epoch in range(first_epoch, cfg.epochs):
            train = self.train_epoch(epoch)
            val = self.evaluate(self.val_data)
            record = {
                "epoch": epoch + 1,
                "train_loss": train["loss"],
                "train_delayed_accuracy": train["delayed_accuracy"],
                "val_loss": val["loss"],
                "val_delayed_accuracy": val["delayed_accuracy"],
                "train_images_per_second": train["images_per_second"],
                "learning_rate": float(self.optimizer.learning_rate.numpy()),
                "seconds": train["seconds"],
            }
            self.history.append(record)
            print(
                f"epoch {epoch + 1}/{cfg.epochs}  loss {train['loss']:.4f}  "
                f"acc {100 * train['delayed_accuracy']:.2f}%  val_loss {val['loss']:.4f}  "
                f"val_acc {100 * val['delayed_accuracy']:.2f}%  "
                f"{train['images_per_second']:,.0f} images/s  {train['seconds']:.1f}s",
                flush=True,
            )
            # The epoch is done: the checkpoint written now resumes at the start of the next one.
            self.epoch.assign(epoch + 1)
            self.step_in_epoch.assign(0)
            self.epoch_totals.assign(tf.zeros(3, tf.float64))
            best = val["delayed_accuracy"] > self.best_accuracy.numpy()
            if best:
                self.best_accuracy.assign(val["delayed_accuracy"])
            self.save(best=best)
            if self.chief:
                self._write_metrics()
            self._notify("on_epoch_end", record)
        if self.chief:
            portable = self.portable_model()
            portable.save(self.out / "model.keras")
            portable.export(str(self.out / "saved_model"), verbose=False)  # for tf.saved_model.load / serving
            print(f"saved {self.out / 'model.keras'}, {self.out / 'saved_model'} and {self.out / 'metrics.json'}")
        self._notify("on_train_end")
        return self._write_metrics() if self.chief else self._metrics()

    def portable_model(self) -> keras.Model:
        """The trained weights in a float32 model: what model.keras and saved_model hold, so that
        evaluation, prediction and serving run anywhere at full precision (bfloat16 is slow on
        machines without bfloat16 instructions)."""
        if self.precision == "float32":
            return self.model
        model = build_model_in("float32", self.cfg)
        model.set_weights(self.model.get_weights())  # mixed policies keep float32 variables
        return model

    def example_batch(self, n: int):
        """n validation sequences, the same every call: (images, targets, mask)."""
        data = SequenceData(self.val_split, self.cfg.sequence_length, self.cfg.delay, n)
        data.images = self.val_data.images  # share the decoded cache
        return next(iter(data.epoch(0, seed=VALIDATION_SEED)))

    def _notify(self, event: str, *args) -> None:
        for observer in self.observers:
            getattr(observer, event)(self, *args)

    # -- outputs -------------------------------------------------------------------------
    def _prepare_output_dir(self) -> None:
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            probe = self.out / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as err:
            raise SettingsError(f"--output-dir {self.out} cannot be written: {err.strerror}") from None

    def _metrics(self) -> dict:
        last = self.history[-1] if self.history else {}
        return {
            "val_delayed_accuracy": last.get("val_delayed_accuracy"),
            "train_delayed_accuracy": last.get("train_delayed_accuracy"),
            "val_loss": last.get("val_loss"),
            "train_loss": last.get("train_loss"),
            "epochs_completed": len(self.history),
            "train_images_per_second": last.get("train_images_per_second"),
            "num_replicas": self.strategy.num_replicas_in_sync,
            "strategy": strategy_name(self.strategy),
            "precision": self.precision,
            "config": asdict(self.cfg),
            "history": self.history,
        }

    def _write_metrics(self) -> dict:
        metrics = self._metrics()
        path = self.out / "metrics.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(metrics, indent=2) + "\n")
        tmp.replace(path)  # atomic: a kill never leaves half a file
        return metrics


def train(cfg: Config, strategy: tf.distribute.Strategy, observers: list | None = None) -> dict:
    """Train with `cfg` on `strategy`; returns what metrics.json holds."""
    return Trainer(cfg, strategy, observers).fit()
