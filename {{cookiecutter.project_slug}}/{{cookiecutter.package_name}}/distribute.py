"""Which tf.distribute strategy to train on, chosen at run time.

    TF_CONFIG set, several tasks   -> MultiWorkerMirroredStrategy (NCCL on GPUs, ring on CPUs)
    2+ GPUs visible and wanted     -> MirroredStrategy with NCCL all-reduce
                                      (hierarchical copy where NCCL is missing, e.g. Windows)
    1 GPU                          -> that GPU
    --cpu-replicas N (no GPU used) -> MirroredStrategy over N logical CPU devices
    otherwise                      -> the CPU

`plan_strategy` decides from plain values (so it is tested without GPUs);
`make_strategy` looks at this machine and builds what the plan says.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass

import tensorflow as tf

from .config import Config, SettingsError


@dataclass(frozen=True)
class Plan:
    kind: str  # "one_device", "mirrored", "multi_worker"
    devices: tuple[str, ...]  # device names for one_device / mirrored
    all_reduce: str  # "nccl", "hierarchical_copy", "reduction_to_one_device", "ring", "none"
    reason: str  # one line for --dry-run
    warning: str | None = None


def wanted_gpus(answer: str, visible: int) -> tuple[int, str | None]:
    """--gpus 'all' or N -> how many to use, and a warning when more are asked for than seen."""
    if answer == "all":
        return visible, None
    asked = int(answer)
    if asked > visible:
        return visible, f"warning: {asked} GPUs asked for (--gpus {answer}) but {visible} visible; using {visible}"
    return asked, None


def plan_strategy(gpus: str, visible_gpus: int, cpu_replicas: int = 1, windows: bool = False, workers: int = 1) -> Plan:
    """The strategy for this answer to --gpus on a machine with `visible_gpus` GPUs."""
    n, warning = wanted_gpus(gpus, visible_gpus)
    if cpu_replicas > 1 and n > 0:
        raise SettingsError(
            f"--cpu-replicas {cpu_replicas} splits the CPU; add --gpus 0 to leave the {n} GPU(s) unused"
        )
    if workers > 1:
        comm = "nccl" if n > 0 else "ring"
        return Plan("multi_worker", (), comm, f"{comm.upper()}: {workers} workers x {max(n, 1)} device(s)", warning)
    if n >= 2:
        devices = tuple(f"/gpu:{i}" for i in range(n))
        if windows:
            note = "warning: NCCL is not available on Windows; using hierarchical-copy all-reduce"
            note = f"{warning}\n{note}" if warning else note
            return Plan("mirrored", devices, "hierarchical_copy", f"hierarchical copy: {n} GPUs, no NCCL", note)
        return Plan("mirrored", devices, "nccl", f"NCCL: {n} GPUs", warning)
    if n == 1:
        return Plan("one_device", ("/gpu:0",), "none", "none: one GPU", warning)
    if cpu_replicas > 1:
        devices = tuple(f"/cpu:{i}" for i in range(cpu_replicas))
        # NcclAllReduce does not run on CPU devices.
        return Plan(
            "mirrored",
            devices,
            "reduction_to_one_device",
            f"reduce to one device: {cpu_replicas} CPU replicas",
            warning,
        )
    return Plan("one_device", ("/cpu:0",), "none", "none: one CPU device", warning)


def _cross_device_ops(all_reduce: str):
    return {
        "nccl": tf.distribute.NcclAllReduce,
        "hierarchical_copy": tf.distribute.HierarchicalCopyAllReduce,
        "reduction_to_one_device": tf.distribute.ReductionToOneDevice,
    }[all_reduce]()


def cluster_workers() -> int:
    """Number of tasks in TF_CONFIG's cluster (1 when it is not set)."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return 1
    try:
        cluster = json.loads(raw)["cluster"]
    except (ValueError, KeyError, TypeError):
        raise SettingsError("TF_CONFIG is not JSON with a 'cluster' entry; see README.md, 'Several machines'") from None
    return sum(len(tasks) for tasks in cluster.values())


def make_strategy(cfg: Config) -> tf.distribute.Strategy:
    """Build the strategy for this machine. Call before any other TensorFlow work."""
    gpus = tf.config.list_physical_devices("GPU")
    plan = plan_strategy(cfg.gpus, len(gpus), cfg.cpu_replicas, sys.platform == "win32", cluster_workers())
    if plan.warning:
        print(plan.warning, file=sys.stderr)
    used, _ = wanted_gpus(cfg.gpus, len(gpus))  # hide the GPUs not asked for, on every kind of plan
    if used < len(gpus):
        tf.config.set_visible_devices(gpus[:used], "GPU")
    if plan.kind == "multi_worker":
        impl = tf.distribute.experimental.CommunicationImplementation
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=impl.NCCL if plan.all_reduce == "nccl" else impl.RING
        )
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    else:
        if plan.devices[0].startswith("/cpu") and len(plan.devices) > 1:
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * len(plan.devices)
            )
        if plan.kind == "mirrored":
            strategy = tf.distribute.MirroredStrategy(
                list(plan.devices), cross_device_ops=_cross_device_ops(plan.all_reduce)
            )
        else:
            strategy = tf.distribute.OneDeviceStrategy(plan.devices[0])
    strategy.all_reduce_description = plan.reason
    return strategy
