from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import tensorflow as tf
from conftest import TINY

from {{ cookiecutter.package_name }}.config import SettingsError
from {{ cookiecutter.package_name }}.distribute import plan_strategy


@pytest.mark.parametrize("windows", [False, True])
@pytest.mark.parametrize("answer", ["0", "1", "2", "all"])
@pytest.mark.parametrize("visible", [0, 1, 2, 8])
def test_strategy_follows_the_answer_and_the_visible_gpus(visible, answer, windows):
    plan = plan_strategy(answer, visible, windows=windows)
    used = visible if answer == "all" else min(int(answer), visible)
    if used >= 2:
        assert plan.kind == "mirrored"
        assert plan.devices == tuple(f"/gpu:{i}" for i in range(used))
        assert plan.all_reduce == ("hierarchical_copy" if windows else "nccl")
        assert (plan.warning is not None) == windows
    else:
        assert plan.kind == "one_device"
        assert plan.devices == (("/gpu:0",) if used == 1 else ("/cpu:0",))
        assert plan.all_reduce == "none"
    if answer not in ("all",) and int(answer) > visible:
        assert plan.warning is not None
        assert f"{answer} GPUs asked for" in plan.warning and f"{visible} visible" in plan.warning


def test_cpu_replicas_mirror_without_nccl():
    plan = plan_strategy("0", 0, cpu_replicas=3)
    assert plan.kind == "mirrored"
    assert plan.devices == ("/cpu:0", "/cpu:1", "/cpu:2")
    assert plan.all_reduce == "reduction_to_one_device"


def test_cpu_replicas_beside_used_gpus_is_an_error():
    with pytest.raises(SettingsError, match="--gpus 0"):
        plan_strategy("all", 2, cpu_replicas=2)


@pytest.mark.parametrize("visible, comm", [(0, "ring"), (4, "nccl")])
def test_several_workers_use_multi_worker_mirrored(visible, comm):
    plan = plan_strategy("all", visible, workers=2)
    assert plan.kind == "multi_worker"
    assert plan.all_reduce == comm


# The tests below start their own Python: logical CPU devices and TF_CONFIG must be set
# before TensorFlow starts its runtime.
def run_python(code: str, *args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


ONE_STEP_ON_ONE_AND_TWO_REPLICAS = """
import sys
import numpy as np, tensorflow as tf
from {{ cookiecutter.package_name }}.config import Config
from {{ cookiecutter.package_name }}.distribute import make_strategy
from {{ cookiecutter.package_name }}.trainer import Trainer

data_dir, out = sys.argv[1], sys.argv[2]
# float32: the claim is about the arithmetic of distribution, not about bfloat16 rounding.
common = dict(data_dir=data_dir, sequence_length=5, delay=2, batch_size=4, filters=4, hidden_size=8, dropout=0.0,
              warmup_epochs=0.0, precision="float32")
two = Trainer(Config(output_dir=out + "/two", **common), make_strategy(Config(cpu_replicas=2, gpus="0")))
one = Trainer(Config(output_dir=out + "/one", **common), tf.distribute.OneDeviceStrategy("/cpu:0"))
one.model.set_weights(two.model.get_weights())
initial = two.model.get_weights()

# One global batch of 4 sequences. Replica 0 gets the first two, with 6 targets; replica 1
# the last two, with 1 target: an uneven share of masked steps must not skew the loss.
rng = np.random.default_rng(0)
images = rng.uniform(0, 255, (4, 5, 28, 28, 1)).astype("float32")
targets = rng.integers(0, 10, (4, 5)).astype("int32")
mask = np.array([[0, 0, 1, 1, 1], [0, 0, 1, 1, 1], [0, 0, 1, 0, 0], [0, 0, 0, 0, 0]], "float32")
for trainer in (one, two):
    batch = tf.data.Dataset.from_tensors((images, targets, mask))
    iterator = iter(trainer.strategy.experimental_distribute_dataset(batch))
    sums = trainer._train_steps(iterator, tf.constant(1)).numpy().tolist()
    print("SUMS", trainer.strategy.num_replicas_in_sync, sums)
pairs = list(zip(one.model.get_weights(), two.model.get_weights(), initial))
print("REPLICAS", two.strategy.num_replicas_in_sync)
print("DIFF", max(float(np.max(np.abs(a - b))) for a, b, _ in pairs))
print("MOVED", max(float(np.max(np.abs(b - w))) for _, b, w in pairs))
"""


def parse(stdout: str) -> dict:
    return {line.split()[0]: line.split(maxsplit=1)[1] for line in stdout.splitlines() if line[:1].isupper()}


def test_one_step_on_two_cpu_replicas_equals_one_replica(tiny_mnist, tmp_path):
    result = run_python(ONE_STEP_ON_ONE_AND_TWO_REPLICAS, str(tiny_mnist), str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    out = parse(result.stdout)
    assert out["REPLICAS"] == "2"
    assert float(out["MOVED"]) > 1e-4  # the step changed the weights
    assert float(out["DIFF"]) < 1e-5  # ... identically on 1 and 2 replicas


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_workers_train_and_only_the_chief_writes(tiny_mnist, tmp_path):
    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    out = tmp_path / "run"
    flags = [*TINY, "--data-dir", str(tiny_mnist), "--output-dir", str(out), "--epochs", "1", "--steps-per-epoch", "2"]
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(tf_config)}
        cmd = [sys.executable, "train.py", *flags, "--no-tensorboard"]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (_, stderr) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, stderr[-3000:]
    assert json.loads((out / "metrics.json").read_text())["strategy"] == "MultiWorkerMirroredStrategy"
    assert json.loads((out / "metrics.json").read_text())["num_replicas"] == 2
    written = sorted(p.name for p in out.iterdir())
    assert written == ["checkpoints", "config.json", "metrics.json", "model.keras", "saved_model"]
    index_files = sorted(p.relative_to(out).as_posix() for p in (out / "checkpoints").rglob("*.index"))
    assert index_files == ["checkpoints/best/ckpt-2.index", "checkpoints/ckpt-2.index"]  # one set, the chief's
    assert not list(tmp_path.glob("**/worker-checkpoints-*"))


def train_cli(*flags: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """python train.py FLAGS in a fresh process, as a user runs it."""
    return subprocess.run([sys.executable, "train.py", *flags], capture_output=True, text=True, timeout=timeout)


def test_a_run_on_two_replicas_resumes_on_one(tiny_mnist, tmp_path):
    out = tmp_path / "run"
    flags = [*TINY, "--gpus", "0", "--data-dir", str(tiny_mnist), "--output-dir", str(out), "--no-tensorboard"]
    first = train_cli(*flags, "--cpu-replicas", "2", "--epochs", "1")
    assert first.returncode == 0, first.stderr[-3000:]
    assert json.loads((out / "metrics.json").read_text())["num_replicas"] == 2
    second = train_cli(*flags, "--epochs", "2")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resuming from" in second.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_replicas"] == 1 and metrics["epochs_completed"] == 2


def test_dry_run_shows_the_plan_for_cpu_replicas():
    result = train_cli("--dry-run", "--gpus", "0", "--cpu-replicas", "2", "--batch-size", "8", timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "MirroredStrategy" in result.stdout
    assert "replicas        : 2" in result.stdout
    assert "per replica     : 4 sequences" in result.stdout
    assert "reduce to one device: 2 CPU replicas" in result.stdout


def test_a_batch_that_does_not_divide_by_the_replicas_is_refused(tiny_mnist, tmp_path):
    data = ["--data-dir", str(tiny_mnist), "--output-dir", str(tmp_path / "run")]
    result = train_cli(*TINY, "--gpus", "0", "--cpu-replicas", "3", *data, timeout=120)
    assert result.returncode != 0
    assert "--batch-size 4 must divide by the number of replicas (3)" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.gpu
@pytest.mark.skipif(len(tf.config.list_physical_devices("GPU")) < 2, reason="NCCL all-reduce needs 2 or more GPUs")
def test_nccl_all_reduce_trains_on_several_gpus(tiny_mnist, tmp_path):
    data = ["--data-dir", str(tiny_mnist), "--output-dir", str(tmp_path / "run")]
    result = train_cli(*TINY, "--gpus", "all", *data, "--epochs", "1", "--steps-per-epoch", "3")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["strategy"] == "MirroredStrategy" and metrics["num_replicas"] >= 2
