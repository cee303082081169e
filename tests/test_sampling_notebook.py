"""Notebook 06, executed as a student runs it (LABUTILS_SMALL=1): what its prose says about the outputs holds."""
import re

import pytest
from executed_notebooks import SOLUTIONS, printed, run_cells

SOLUTION = SOLUTIONS / "06_sampling.ipynb"
BARS = re.compile(r"^--- (argmax|sampling): (\d+) different bars out of (\d+)", re.M)
COUNTS = re.compile(r"^(plain|guided)\s+(\d+) complete tunes,\s+(\d+) clean,\s+(\d+) wrong bars, (\d+) copying", re.M)


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    """{cell id: cell} of the whole notebook's code cells, run under LABUTILS_SMALL=1 from a temporary folder."""
    return {cell.get("id"): cell for cell in run_cells(tmp_path_factory, lambda source: True, SOLUTION)}


def test_argmax_repeats_a_few_bars_and_sampling_keeps_moving(cells):
    """'The greedy text settles into a loop that repeats the same few bars ...; the sampled one keeps moving.'"""
    found = {name: (int(distinct), int(total)) for name, distinct, total in BARS.findall(printed(cells["s06-16"]))}
    (greedy, greedy_total), (sampled, sampled_total) = found["argmax"], found["sampling"]
    assert greedy / greedy_total < 0.5 * sampled / sampled_total, found


def test_guided_tunes_are_clean_and_copy_no_more_than_plain_ones(cells):
    """'Compare with your numbers': every guided tune clean, and no closer to a training tune (the copying count)."""
    found = {name: tuple(map(int, rest)) for name, *rest in COUNTS.findall(printed(cells["s06-g5"]))}
    plain_count, plain_clean, _, plain_copying = found["plain"]
    guided_count, guided_clean, guided_bad_bars, guided_copying = found["guided"]
    assert guided_count > 0 and guided_clean == guided_count and guided_bad_bars == 0, found
    assert guided_clean / guided_count >= plain_clean / max(1, plain_count)
    assert guided_copying <= plain_copying


def test_the_form_table_shows_the_guides_rules_and_the_model_s_returning_phrases(cells):
    """The table's rows the prose explains: no one-part guided tune, parts closed on the tonic; the pretrained model,
    which reads four bars back, restates its phrases in plain and guided tunes alike."""
    rows = {}
    for line in printed(cells["s06-f2"]).splitlines():
        fields = [field.strip() for field in line.strip().strip("|").split("|")]
        if len(fields) == 4 and fields[1].endswith("%"):
            rows[fields[0]] = [float(field.rstrip("%")) if field.endswith("%") else None for field in fields[1:]]
    real, plain, guided = zip(*[rows[label] for label in ("tunes with one part only", "every part ends on the tonic",
                                                          "8-bar parts whose bar 5 or 6 restates bar 1 or 2")])
    assert guided[0] == 0  # no tune ends before its second part
    assert guided[1] >= plain[1]  # the cadence
    assert min(plain[2], guided[2]) >= real[2] / 2  # returning phrases: not the guide's, near the real tunes'
