"""The Colab header every lab notebook carries; the one place the repository's address stands.

Each notebook opens with an "Open in Colab" badge in its first markdown cell and a set-up cell
(tagged "colab-setup") that, in Colab, installs labutils from REPO_URL, the tune collection and
the audio tools, and elsewhere does nothing. The notebook build (labutils.authoring, `python -m
labutils build-notebooks`) writes both from here into the solutions and the student notebooks
alike; the grader knows the lab's own set-up cell by setup_cell_source().
"""
from __future__ import annotations

import json
import re

# The one place the repository's address is written: badges and install cells come from here.
REPO_URL = "https://github.com/rnn-music-lab/rnn-music-lab"
BRANCH = "main"

SETUP_TAG = "colab-setup"
COLAB_BADGE_SVG = "https://colab.research.google.com/assets/colab-badge.svg"
# The set-up cell installs labutils from REPO_URL, or from this variable's repository when it is set
# (tests/test_colab.py points it at a local clone).
REPO_URL_ENV = "LABUTILS_REPO_URL"
COLAB_APT_PACKAGES = ("abcmidi", "timidity", "fluid-soundfont-gm", "abcm2ps")
BADGE_PATTERN = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")  # any Colab badge, ours or an old one


def repo_slug() -> str:
    """'owner/name' of REPO_URL."""
    return REPO_URL.rstrip("/").split("github.com/", 1)[1]


def colab_url(repo_path: str) -> str:
    """The Colab address that opens `repo_path` (e.g. 'notebooks/01_data.ipynb') from the repository."""
    return f"https://colab.research.google.com/github/{repo_slug()}/blob/{BRANCH}/{repo_path}"


def badge_markdown(repo_path: str) -> str:
    """The "Open in Colab" badge (markdown) for a notebook's path in the repository."""
    return f"[![Open In Colab]({COLAB_BADGE_SVG})]({colab_url(repo_path)})"


def setup_cell_source() -> str:
    """The set-up cell: in Colab it installs labutils, the tunes and the audio tools; elsewhere nothing."""
    apt = ", ".join(json.dumps(p) for p in COLAB_APT_PACKAGES)
    return "\n".join([
        "# Colab set-up: installs labutils, the tune collection and the audio tools. Elsewhere it does nothing",
        "# (run `make lab` locally). Written by `python -m labutils build-notebooks` from labutils/notebooks.py.",
        "import importlib.util",
        "import os",
        "import subprocess",
        "import sys",
        "",
        'if "google.colab" in sys.modules and importlib.util.find_spec("labutils") is None:',
        f"    repo = os.environ.get({json.dumps(REPO_URL_ENV)}, {json.dumps(REPO_URL)})",
        '    pip = [sys.executable, "-m", "pip", "install", "--quiet"]',
        f'    subprocess.run(pip + [f"labutils @ git+{{repo}}@{BRANCH}"], check=True, timeout=900)',
        '    subprocess.run(pip + ["setuptools<81", "wheel"], check=True, timeout=600)',
        '    subprocess.run(pip + ["--no-deps", "--no-build-isolation", "mitdeeplearning==0.7.5"], check=True, timeout=600)',
        '    subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=600)',
        f'    subprocess.run(["apt-get", "install", "-y", "-qq", {apt}], check=True, timeout=900)',
        "    importlib.invalidate_caches()",
    ])


def is_setup_cell(cell) -> bool:
    """True for the notebook's set-up cell: a code cell tagged "colab-setup"."""
    return cell.cell_type == "code" and SETUP_TAG in cell.get("metadata", {}).get("tags", [])


def __getattr__(name: str):
    """`labutils.notebooks.trained_model`: notebooks 06-08 as first published import it from here.

    A student's copy of them, saved from Colab, installs labutils from the main branch in each
    fresh runtime, so the name keeps answering: labutils.pretrained.trained_model, imported only
    when asked for, so that the build and the grader need no torch."""
    if name == "trained_model":
        from labutils.pretrained import trained_model

        return trained_model
    raise AttributeError(f"module 'labutils.notebooks' has no attribute {name!r}")
