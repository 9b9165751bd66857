"""Remove the modules that the answers leave unused, record the answers, print next steps.

Each option owns an explicit list of paths; main() reads like a decision table.
"""

import json
import shutil
import sys
from pathlib import Path

CONTEXT = json.loads(r'{{ cookiecutter | tojson }}')
PACKAGE = CONTEXT["package_name"]

CONV_RNN_PATHS = [f"{PACKAGE}/conv_rnn.py", "tests/test_conv_rnn.py"]
MULTI_DEVICE_PATHS = [f"{PACKAGE}/distribute.py", "tests/test_distribute.py"]
VISUALIZATION_PATHS = [f"{PACKAGE}/visualize.py", "tests/test_visualize.py"]
LICENSE_PATHS = ["LICENSE"]

# Re-bake with `cookiecutter --replay-file .cookiecutter-replay.json <template> -o <elsewhere>`.
ANSWERS_FILE = ".cookiecutter-replay.json"


def remove(paths):
    for relative in paths:
        path = Path(relative)
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            sys.exit(f"error: post_gen hook: {relative} is listed for removal but was not generated")


def record_answers():
    """Answers only: no machine paths, no prompts."""
    answers = {k: v for k, v in CONTEXT.items() if not k.startswith("_") or k == "_template"}
    Path(ANSWERS_FILE).write_text(json.dumps({"cookiecutter": answers}, indent=2, sort_keys=True) + "\n")


def main():
    if CONTEXT["recurrence"] != "conv_rnn":
        remove(CONV_RNN_PATHS)
    if CONTEXT["num_gpus"] in ("0", "1"):
        remove(MULTI_DEVICE_PATHS)
    if CONTEXT["tensorboard"] == "no":
        remove(VISUALIZATION_PATHS)
    if CONTEXT["license"] == "none":
        remove(LICENSE_PATHS)
    record_answers()
    print(
        f"\nCreated {Path.cwd()}\n\nNext steps:\n"
        f"  cd {Path.cwd().name}\n"
        "  pip install -e '.[cpu,dev]'       # or '.[gpu,dev]' on an NVIDIA machine\n"
        "  python prepare_data.py           # MNIST as PNGs (offline: a 5,000-digit sample)\n"
        "  python train.py                  # trains; the same command resumes\n"
        "  python -m pytest                 # the project's own tests\n"
    )


if __name__ == "__main__":
    main()
