"""labutils.guided: the bar guide (what one row does with each character it is offered) and generate_tunes."""
import shutil

import pytest
import torch

from labutils.guided import generate_tunes
from labutils.guided.guide import KEEP, REJECT, ROLL_BACK, TUNE_DONE, UNDO, TuneRow
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
def model():
    """An untrained model over the lab's vocabulary."""
    from labutils.corpus import lab_vocab
    from labutils.model import LSTMModel

    torch.manual_seed(0)
    return LSTMModel(len(lab_vocab()[0]), 16, 32)


@pytest.fixture(scope="module")
def pretrained():
    from labutils.pretrained import load_pretrained

    return load_pretrained(torch.device("cpu"))


@pytest.mark.skipif(ABC2MIDI is None, reason="abc2midi is not installed (apt install abcmidi)")
def test_guided_tunes_are_abc2midi_clean_even_when_hot(pretrained):
    """At temperature 1.0 most plain tunes are not clean (benchmarks, figure 4); every guided one is."""
    from labutils.music import check_tune

    model, vocab = pretrained
    tunes = generate_tunes(model, 24, vocab=vocab, seed=7, batch_size=12, temperature=1.0)
    reports = [check_tune(tune, "abc2midi") for tune in tunes]
    assert len(tunes) == 24 and all(r.clean for r in reports), [(r.errors, r.bad_bars) for r in reports]
    plain = generate_tunes(model, 24, vocab=vocab, seed=7, batch_size=12, temperature=1.0, guided=False)
    assert sum(check_tune(tune, "abc2midi").clean for tune in plain) < 24  # what the guide is for


# --- generate_tunes: whole tunes, guided so that every bar has the meter's length ----------------

def test_guided_tunes_have_only_right_bars(pretrained):
    from labutils.data import extract_song_snippet

    model, vocab = pretrained
    tunes = generate_tunes(model, 12, vocab=vocab, seed=1, batch_size=6)
    assert len(tunes) == 12
    for tune in tunes:
        assert tune.startswith("X:") and "\nK:" in tune and extract_song_snippet(tune + "\n\n") == [tune]
        rhythm = RhythmState().feed(tune + "\n\n")
        assert rhythm.ok and rhythm.where == "done", rhythm.violations


def test_plain_tunes_break_bars_the_guide_would_not(pretrained):
    model, vocab = pretrained
    tunes = generate_tunes(model, 12, vocab=vocab, seed=1, batch_size=6, guided=False)
    assert len(tunes) == 12
    assert sum(not RhythmState().feed(t + "\n").finish().ok for t in tunes) >= 3  # what the guide is for


def test_seed_reproduces_tunes(pretrained):
    model, vocab = pretrained
    first = generate_tunes(model, 4, vocab=vocab, seed=3, batch_size=4)
    assert generate_tunes(model, 4, vocab=vocab, seed=3, batch_size=4) == first
    assert generate_tunes(model, 4, vocab=vocab, seed=4, batch_size=4) != first


def test_unguided_first_tune_is_what_generate_text_writes(pretrained):
    from labutils.data import extract_song_snippet
    from labutils.sampling import generate_text

    model, vocab = pretrained
    tunes = generate_tunes(model, 3, vocab=vocab, seed=5, batch_size=3, guided=False, temperature=0.8)
    texts = generate_text(model, "X", 1500, vocab=vocab, num_samples=3, seed=5, temperature=0.8)
    firsts = [extract_song_snippet(text)[0] for text in texts]
    assert sorted(tunes) == sorted(firsts)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_tunes": 0}, "num_tunes"), ({"num_tunes": -2}, "num_tunes"), ({"num_tunes": 2.5}, "num_tunes"),
    ({"temperature": 0}, "temperature"), ({"temperature": -1.0}, "temperature"),
    ({"temperature": float("nan")}, "temperature"), ({"temperature": float("inf")}, "temperature"),
    ({"start": "X\u00e9"}, "vocabulary"), ({"top_k": 0}, "top_k"),
])
def test_generate_tunes_bad_arguments(model, kwargs, message):
    arguments = {"num_tunes": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate_tunes(model, arguments.pop("num_tunes"), **arguments)


def test_a_model_that_never_ends_a_tune_stops(model):
    with pytest.warns(UserWarning, match="only 0 of 2"):
        assert generate_tunes(model, 2, max_chars=60, seed=0) == []
