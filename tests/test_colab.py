"""The Colab set-up cell, run for real: a clean virtual environment with only what Colab has
preinstalled that matters here (torch), the cell pointed at a local clone, then notebook 01."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from labutils import notebooks

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"),
                       reason="the cell apt-installs the audio tools, as root in Colab: needs root and apt-get"),
    pytest.mark.skipif(not shutil.which("git"), reason="pip installs labutils from a git clone: needs git"),
]

RUN_NOTEBOOK = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=300, kernel_name="python3").execute()
outputs = [o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
print("\\n".join(outputs))
"""


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, timeout=1500, **kwargs)
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def test_the_colab_cell_installs_the_lab_and_notebook_01_runs(tmp_path):
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(ROOT), str(clone)])
    run(["git", "-C", str(clone), "checkout", "-q", "-B", notebooks.BRANCH])
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    run([python, "-m", "pip", "install", "-q", f"torch=={torch.__version__.split('+')[0]}"])  # Colab has torch

    cell = json.loads((ROOT / "notebooks" / "01_data.ipynb").read_text(encoding="utf-8"))["cells"][1]
    assert notebooks.SETUP_TAG in cell["metadata"]["tags"]
    as_in_colab = "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')\n"
    env = {**os.environ, notebooks.REPO_URL_ENV: f"file://localhost{clone}", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    run([python, "-c", as_in_colab + "".join(cell["source"])], env=env, cwd=tmp_path)

    installed = run([python, "-c", "import labutils, sys; print(labutils.__file__); "
                     "print(len(labutils.data.load_training_data()))"], cwd=tmp_path, env=env)
    assert str(venv) in installed and installed.split()[-1] == "804"
    printed = run([python, "-c", RUN_NOTEBOOK, str(ROOT / "notebooks" / "01_data.ipynb")], cwd=tmp_path,
                  env={**env, "LABUTILS_SMALL": "1"})
    assert "804" in printed
