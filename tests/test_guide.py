"""The bar guide of generate_tunes (labutils.guide): what one row does with each character it is offered."""
import shutil

import pytest
import torch

from labutils.guide import KEEP, REJECT, ROLL_BACK, TUNE_DONE, UNDO, TuneRow
from labutils.music.rhythm import RhythmState

HEAD = "X:1\nT:t\nM:2/4\nL:1/8\nK:G\n"
ABC2MIDI = shutil.which("abc2midi")


def row_after(text):
    """A guided row that has written `text`, every character kept."""
    row = TuneRow(guided=True, max_chars=1500, start="")
    for char in text:
        verdict = row.accept(char)
        assert verdict == KEEP, (char, verdict, row.text)
    return row


def test_a_bar_line_at_the_wrong_length_is_taken_back_not_the_bar():
    row = row_after(HEAD + "A|BA B|")  # a bar of 3/8 so far, then '|' (read when the next character comes)
    assert row.accept("A") == UNDO  # as a plain bar line it would end a bar of 3/8
    assert row.text == HEAD + "A|BA B|" and row.rhythm.ok  # the row is as it was
    assert row.undo_last() == "|" and row.text == HEAD + "A|BA B"
    assert row.accept("A") == KEEP and row.accept("|") == KEEP and row.accept("B") == KEEP  # the bar goes on, ends


def test_a_note_in_a_full_bar_is_refused_with_every_other_note():
    row = row_after(HEAD + "A|BA BA")
    assert row.accept("c") == REJECT
    assert {"c", "^", "z"} <= set(row.refused)  # the sampler masks them all at once
    assert row.text == HEAD + "A|BA BA" and row.accept("|") == KEEP


def test_a_colon_where_no_repeat_sign_fits_is_refused():
    row = row_after(HEAD + "BA BA|BA B")  # ':|' here would replay a bar of 3/8 + 4/8
    assert not row.rhythm.allows(":|") and not row.rhythm.allows("::")
    assert row.accept(":") == REJECT and row.text.endswith("BA B")
    assert row_after(HEAD + "A|BA BA|BA B").accept(":") == KEEP  # with a pickup of 1/8 it fits


def test_a_refused_character_leaves_the_row_as_it_was():
    row = row_after(HEAD + "A|BA BA|BA B|")
    text, bars = row.text, row.rhythm.bars_written
    assert row.accept("[") == UNDO  # '[' would end the short bar with a plain bar line
    assert row.text == text and row.rhythm.ok and row.rhythm.pending_bar == "|" and row.rhythm.bars_written == bars


def test_the_header_is_fields_and_a_key_abc2midi_reads():
    row = TuneRow(guided=True, max_chars=1500, start="X")
    assert row.accept("1") == KEEP and row.text == "X:"  # a tune starts "X:"
    row = row_after("X:1\nT:t\nM:2/4\n")
    assert row.accept("\n") == REJECT  # no blank line in the header
    assert row_after("X:1\nT:t\nK:").accept("M") == REJECT  # no key starts with M
    assert row_after("X:1\nT:t\nK:G Ma").accept("\n") == REJECT  # 'Ma' is no mode
    assert row_after("X:1\nT:t\nK:G Maj").accept("\n") == KEEP
    assert row_after("X:1\nT:t\nB").accept("|") == ROLL_BACK  # music before the K: line: start again


def test_a_finished_tune_has_its_repeat_signs_written_out():
    body = "A|BA BA|BA B:|\nc|dc dc|[1 dc d:|[2 dc d2|]\n\n"  # the collection's usual first ending
    row = row_after(HEAD + body[:-1])
    assert row.accept("\n") == TUNE_DONE
    tune = row.tune()
    assert "BA B::\nc" in tune and tune.endswith("d2|]")
    state = RhythmState().feed(tune + "\n").finish()
    assert state.ok and state.repeat_fixes() == []


def test_unguided_rows_take_everything():
    row = TuneRow(guided=False, max_chars=1500, start="")
    for char in HEAD + "A|BA B|A BA:|::[1[1 ~|":
        assert row.accept(char) == KEEP


@pytest.fixture(scope="module")
def pretrained():
    from labutils.pretrained import load_pretrained

    return load_pretrained(torch.device("cpu"))


@pytest.mark.skipif(ABC2MIDI is None, reason="abc2midi is not installed (apt install abcmidi)")
def test_guided_tunes_are_abc2midi_clean_even_when_hot(pretrained):
    """At temperature 1.0 the plain sampler's tunes are clean about 1 time in 5 (benchmarks, figure 4)."""
    from labutils.music import check_tune
    from labutils.sampling import generate_tunes

    model, vocab = pretrained
    tunes = generate_tunes(model, 24, vocab=vocab, seed=7, batch_size=12, temperature=1.0)
    reports = [check_tune(tune, "abc2midi") for tune in tunes]
    assert len(tunes) == 24 and all(r.clean for r in reports), [(r.errors, r.bad_bars) for r in reports]
    plain = generate_tunes(model, 24, vocab=vocab, seed=7, batch_size=12, temperature=1.0, guided=False)
    assert sum(check_tune(tune, "abc2midi").clean for tune in plain) < 24  # what the guide is for
