"""Format and lint-fix the template's Python files through a baked copy.

The template's sources hold Jinja, so ruff cannot read them directly. This bakes the
rendering that keeps every module (conv_rnn, several GPUs, TensorBoard), runs
`ruff format` and `ruff check --fix` on the baked copy, and applies the resulting diff
back to the template with `patch`. Hunks that touch Jinja lines are reported, not applied.

    python tools/format_template.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
PROJECT = TEMPLATE / "{{cookiecutter.project_slug}}"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        before, after = Path(tmp) / "before", Path(tmp) / "after"
        bake = [sys.executable, "-m", "cookiecutter", "--no-input", str(TEMPLATE), "recurrence=conv_rnn"]
        subprocess.run([*bake, "-o", str(before)], check=True, capture_output=True)
        subprocess.run([*bake, "-o", str(after)], check=True, capture_output=True)
        baked = after / "sequential-mnist"
        subprocess.run([sys.executable, "-m", "ruff", "format", "-q", "."], cwd=baked, check=True)
        subprocess.run([sys.executable, "-m", "ruff", "check", "-q", "--fix", "."], cwd=baked)
        diff = subprocess.run(
            ["diff", "-ru", "before/sequential-mnist", "after/sequential-mnist"], cwd=tmp, capture_output=True, text=True
        ).stdout
        diff = diff.replace("sequential-mnist/sequential_mnist/", "sequential-mnist/{{cookiecutter.package_name}}/")
        if not diff:
            print("nothing to change")
            return 0
        result = subprocess.run(["patch", "-p2", "-F3", "--no-backup-if-mismatch"], cwd=PROJECT, input=diff, text=True)
        return result.returncode


if __name__ == "__main__":
    sys.exit(main())
