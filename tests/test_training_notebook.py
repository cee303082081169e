"""Notebook 05, executed as a student runs it (LABUTILS_SMALL=1): what its prose says about the outputs holds."""
import math
import re

import nbformat
import pytest
from executed_notebooks import SOLUTIONS, errors, printed, run_cells, shows_progress

from labutils.model import LSTMModel

SOLUTION = SOLUTIONS / "05_training.ipynb"


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    """{cell id: cell} of the whole notebook's code cells, run under LABUTILS_SMALL=1 from a temporary folder."""
    return {cell.get("id"): cell for cell in run_cells(tmp_path_factory, lambda source: True, SOLUTION)}


def prose() -> str:
    """The notebook's markdown, one string."""
    return "\n".join(cell.source for cell in nbformat.read(SOLUTION, as_version=4).cells if cell.cell_type == "markdown")


def test_every_cell_runs_and_the_loop_shows_progress_in_small_settings(cells):
    """No error output; the small settings are announced and the loop draws a progress bar and the live plot."""
    assert errors(cells.values()) == []
    assert "LABUTILS_SMALL=1: small settings" in printed(cells["s05-15"])
    loop = cells["s05-23"]
    assert shows_progress(loop)
    assert any("image/png" in out.get("data", {}) for out in loop.outputs)


def test_the_loss_starts_at_a_uniform_guess_and_falls(cells):
    """'An untrained network starts here' (log2 83 bits); the training and held-out losses end lower."""
    uniform = math.log2(83)
    text = printed(cells["s05-26"])
    first, last, steps = re.search(r"training batches: ([\d.]+) bits/char at step 1, ([\d.]+) at step (\d+)",
                                   text).groups()
    assert float(first) == pytest.approx(uniform, abs=0.1)
    assert float(last) < float(first) - 1
    held_out = float(re.search(r"held-out tunes now: ([\d.]+) bits/char \(a uniform guess: 6.38\)", text).group(1))
    assert held_out < uniform - 1
    assert int(steps) == 30 and "lowest" in text  # the small run's length, evaluated on held-out tunes


def test_the_checkpoint_restores_the_model_and_comet_writes_an_offline_zip_in_the_run_folder(cells):
    """'The checkpoint holds everything needed to rebuild the model'; 'Without a key ... an offline zip'."""
    assert "same predictions as the trained model: True" in printed(cells["s05-30"])
    assert "Comet ML mode: offline" in printed(cells["s05-21"])
    assert re.search(r"offline experiment saved to runs/05_training/\w+\.zip", printed(cells["s05-28"]))


def test_the_first_taste_starts_a_tune(cells):
    """'here are 300 characters starting from X'."""
    text = printed(cells["s05-32"]).rstrip("\n")
    assert text.startswith("X") and len(text) == 301


def test_the_prose_gives_the_size_of_the_lab_model():
    """'this 5.4-million-parameter model': the notes' sizes, counted."""
    size = float(re.search(r"([\d.]+)-million-parameter model", prose()).group(1))
    model = LSTMModel(83, embedding_dim=256, hidden_size=1024)
    assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(size, abs=0.05)
