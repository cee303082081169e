"""Notebook 08's part 1, executed as a student runs it: what its prose says about the outputs holds."""
import re

import nbformat
import pytest
from executed_notebooks import SOLUTIONS, printed, run_cells, shows_progress

SOLUTION = SOLUTIONS / "08_experiments.ipynb"
LINE = re.compile(r"^(\{.*?\})\s+(\d+) tunes \(\s*(\d+) different\),\s+(\d+) clean,\s+(\d+)% distinct bars$")


@pytest.fixture(scope="module")
def part_one(tmp_path_factory):
    """The code cells up to and including the temperature table."""
    nb = nbformat.read(SOLUTION, as_version=4)
    last = next(i for i, cell in enumerate(nb.cells) if "sampling_report(texts)" in cell.source)
    wanted = {cell.source for cell in nb.cells[: last + 1]}
    return run_cells(tmp_path_factory, lambda source: source in wanted, SOLUTION)[-1]


@pytest.fixture(scope="module")
def bidirectional(tmp_path_factory):
    """The set-up cells, the data cell and part 7 (a bidirectional LSTM against a plain one)."""
    keep = ("import time", "device = get_device()", "songs = load_training_data()", "class DirectionalLSTM")
    return run_cells(tmp_path_factory, lambda source: any(mark in source for mark in keep)
                     or "google.colab" in source, SOLUTION)[-1]


def test_the_sampling_cell_shows_progress_and_says_it_is_small(part_one):
    assert shows_progress(part_one), part_one.outputs  # a tqdm.auto bar: a widget in Jupyter, text elsewhere
    assert "LABUTILS_SMALL=1: texts of 400 characters" in printed(part_one)


def test_the_prose_about_temperature_and_top_k_holds(part_one):
    rows = {}
    for line in printed(part_one).splitlines():
        found = LINE.match(line.strip())
        if found:
            rows[found.group(1)] = tuple(int(found.group(n)) for n in (2, 3, 4, 5))  # tunes, different, clean, %
    cold, warm, hot = rows["{'temperature': 0.5}"], rows["{'temperature': 1.0}"], rows["{'temperature': 1.5}"]
    argmax = rows["{'temperature': 1.0, 'top_k': 1}"]
    others = [row for name, row in rows.items() if "'top_k': 1}" not in name]
    assert len(rows) == 5
    assert cold[3] < warm[3] <= hot[3]  # the lower the temperature, the fewer distinct bars
    assert hot[2] < min(cold[2], warm[2])  # T=1.5: the fewest clean tunes of the three temperatures
    assert argmax[3] < 10 and all(argmax[3] < row[3] for row in others)  # the argmax repeats itself
    assert argmax[0] > 2 >= argmax[1]  # one tune (or two) over and over
    assert all(row[1] >= row[0] - 1 for row in others)  # sampling: (almost) every tune a different one
    assert argmax[2] == argmax[0]  # the pretrained model's argmax tune is clean (it copies its bars 4 back)


def test_the_bidirectional_lstm_looks_ahead_and_is_worse_left_to_right(bidirectional):
    scores = {}
    for line in printed(bidirectional).splitlines():
        found = re.match(r"^(one direction|bidirectional)\s+held-out bits/char: reading whole windows ([\d.]+), "
                         r"left to right ([\d.]+)$", line.strip())
        if found:
            scores[found.group(1)] = float(found.group(2)), float(found.group(3))
    (plain_whole, plain_left), (bidi_whole, bidi_left) = scores["one direction"], scores["bidirectional"]
    assert plain_whole == pytest.approx(plain_left, abs=0.01)  # one direction: both ways of scoring agree
    assert bidi_whole < plain_whole / 2  # reading ahead: far better on whole windows
    assert bidi_left > plain_left  # from the left only, worse than the plain LSTM of the same steps
