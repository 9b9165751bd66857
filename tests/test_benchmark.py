"""The benchmark runs (in its tiny mode) and writes every figure it prints."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import TEMPLATE


@pytest.mark.slow
def test_benchmark_tiny_mode_prints_and_writes_every_figure(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(TEMPLATE / "benchmarks" / "bench.py"), "--tiny", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    for key in ("train", "baseline", "pipeline", "decode_ours", "decode_keras"):
        assert figures[f"{key}_images_per_s"] > 0, key
    run = figures["run"]
    assert run["epochs"] == 1 and 0 <= run["final_val_delayed_accuracy"] <= 1
    assert 0.1 < run["peak_rss_gb"] < 24
    for label in ("ours / fit =", "pipeline / training =", "image_dataset_from_directory", "peak memory"):
        assert label in result.stdout
