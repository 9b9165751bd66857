"""Check every answer before anything is written. One line per problem, then exit 1.

Answers are read through `tojson` into raw strings and parsed with json.loads, never
pasted into Python source, so quotes, backslashes or newlines in them cannot run as code.
"""

import json
import keyword
import re
import sys

ANSWERS = {
    "project_name": json.loads(r'{{ cookiecutter.project_name | tojson }}'),
    "project_slug": json.loads(r'{{ cookiecutter.project_slug | tojson }}'),
    "package_name": json.loads(r'{{ cookiecutter.package_name | tojson }}'),
    "recurrence": json.loads(r'{{ cookiecutter.recurrence | tojson }}'),
    "delay": json.loads(r'{{ cookiecutter.delay | tojson }}'),
    "sequence_length": json.loads(r'{{ cookiecutter.sequence_length | tojson }}'),
    "num_gpus": json.loads(r'{{ cookiecutter.num_gpus | tojson }}'),
    "tensorboard": json.loads(r'{{ cookiecutter.tensorboard | tojson }}'),
    "license": json.loads(r'{{ cookiecutter.license | tojson }}'),
}

RECURRENCES = ("lstm", "gru", "simple_rnn", "conv_lstm", "conv_rnn")
LICENSES = ("MIT", "BSD-3-Clause", "Apache-2.0", "none")
# Import names the generated project depends on or ships beside its package: a package
# of the same name would shadow them.
SHADOWED = {
    "tensorflow",
    "tf",
    "keras",
    "numpy",
    "np",
    "PIL",
    "pillow",
    "mlxtend",
    "tensorboard",
    "pytest",
    "ruff",
    "absl",
    "google",
    "h5py",
    "ml_dtypes",
    "optree",
    "scipy",
    "sklearn",
    "pandas",
    "matplotlib",
    "setuptools",
    "pip",
    "cookiecutter",
    "train",
    "prepare_data",
    "evaluate",
    "predict",
    "tests",
    "conftest",
}


def as_int(value):
    """The integer an answer spells, or None ("3" and 3 are fine; "3.0", "x", True are not)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    return None


def problems(answers):
    """Yield one message per invalid answer, each naming it and what is allowed."""
    slug = answers["project_slug"]
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", slug) or slug.endswith("."):
        yield (
            f"project_slug {slug!r} is not a usable directory name: use 1-100 ASCII letters, digits, "
            "'-', '_' or '.', starting with a letter or digit"
        )

    package = answers["package_name"]
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", package):
        yield f"package_name {package!r} is not a Python identifier: use ASCII letters, digits and '_'"
    elif keyword.iskeyword(package) or keyword.issoftkeyword(package):
        yield f"package_name {package!r} is a Python keyword: choose another name"
    elif package in SHADOWED or package.lower() in {s.lower() for s in SHADOWED} or package in sys.stdlib_module_names:
        yield f"package_name {package!r} would shadow the module of the same name: choose another name"

    if answers["recurrence"] not in RECURRENCES:
        yield f"recurrence {answers['recurrence']!r} is not one of {', '.join(RECURRENCES)}"

    length = as_int(answers["sequence_length"])
    if length is None or not 1 <= length <= 1000:
        yield f"sequence_length {answers['sequence_length']!r} must be an integer from 1 to 1000"
    delay = as_int(answers["delay"])
    if delay is None or delay < 0:
        yield f"delay {answers['delay']!r} must be an integer >= 0"
    elif length is not None and 1 <= length <= 1000 and delay >= length:
        yield f"delay {answers['delay']!r} must be less than sequence_length ({length}): 0 <= delay < sequence_length"

    gpus = answers["num_gpus"]
    if not (gpus == "all" or (as_int(gpus) is not None and as_int(gpus) >= 0)):
        yield f"num_gpus {gpus!r} must be 'all' or an integer >= 0 (0 = CPU only)"

    if answers["tensorboard"] not in ("yes", "no"):
        yield f"tensorboard {answers['tensorboard']!r} must be 'yes' or 'no'"

    if answers["license"] not in LICENSES:
        yield f"license {answers['license']!r} is not one of {', '.join(LICENSES)}"


def main():
    found = list(problems(ANSWERS))
    for message in found:
        print(f"error: {message}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
