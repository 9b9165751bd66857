from __future__ import annotations

import pytest

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
