"""labutils.guided: the bar guide (what one row does with each character it is offered) and generate_tunes."""
import shutil
import warnings

import pytest
import torch

from labutils.guided import generate_tunes
from labutils.guided.guide import KEEP, NOTE_AGAIN, REJECT, ROLL_BACK, TUNE_DONE, UNDO, TuneRow
from labutils.guided.parts import PHRASE_TYPES, played_bars, tune_bars
from labutils.music.form import split_parts, tune_form
from labutils.music.rhythm import RhythmState

HEAD = "X:1\nT:t\nM:2/4\nL:1/8\nK:G\n"
REEL = "X:1\nT:t\nR:reel\nM:2/4\nL:1/8\nK:G\n"  # a tune type with 8-bar phrases (bars of 4/8 here)
BAR = "BA BA|"
ABC2MIDI = shutil.which("abc2midi")


def row_after(text, cadence=None, row=None):
    """A guided row that has written `text` (after what `row` wrote), every character kept."""
    row = row or TuneRow(guided=True, max_chars=1500, start="", cadence=cadence)
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


def test_a_refused_repeat_after_a_short_bar_rolls_the_bar_back():
    row = row_after(HEAD + "BA BA|BA B")  # ':|' here would replay a bar of 3/8 + 4/8
    assert not row.rhythm.allows(":|") and not row.rhythm.allows("::")
    assert row.accept(":") == ROLL_BACK  # not REJECT, whose next best draw was '|]': a one-part tune
    assert row.roll_back() and row.text == HEAD + "BA BA|" and row.rhythm.pending_bar == "|"  # the bar again
    row_after("BA B", row=row)
    assert row.accept(":") == REJECT and {"|", ":", "]"} <= set(row.refused)  # once: then the bar goes on
    assert row.accept("A") == KEEP and row.accept(":") == KEEP
    assert row_after(HEAD + "A|BA BA|BA B").accept(":") == KEEP  # with a pickup of 1/8 it fits


def test_a_refused_repeat_after_a_full_bar_rolls_back_to_a_bar_the_repeat_fits():
    row = row_after(HEAD + "A|BA BA|BA BA")  # a full bar, then the pickup again: a bar of 1/8
    assert row.accept(":") == ROLL_BACK and row.roll_back()
    row_after("BA B", row=row)  # the bar again, now no longer than the pickup leaves (3/8)
    assert row.accept("A") == REJECT and row.accept(" ") == REJECT  # only its bar line is left
    assert row.accept(":") == KEEP and row.accept("|") == KEEP
    row = row_after(REEL + "A|" + BAR * 5 + "BA BA")  # where the part may not close: a plain '|'
    assert row.accept(":") == REJECT and row.refused == (":",) and row.accept("|") == KEEP


def test_a_tune_does_not_end_after_one_part():
    row = row_after(REEL + BAR * 7 + "BA BG:|!\n")  # part A: 8 bars, repeated
    assert row.accept("\n") == REJECT and {"\n", "X"} <= set(row.refused)  # no blank line: the tune goes on
    assert row.accept("X") == REJECT  # nor a new tune's X: line
    row_after(BAR * 7 + "BA BG:|!\n", row=row)  # part B
    assert row.accept("\n") == TUNE_DONE
    assert tune_form(row.tune()).parts == 2


def test_a_part_closes_only_on_whole_phrases():
    row = row_after(REEL + BAR * 6 + "BA BA")
    assert row.accept(":") == REJECT and row.refused == (":",)  # 7 bars repeated: 14 played
    assert row.accept("|") == KEEP  # a plain bar line: the part goes on
    assert row_after(REEL + BAR * 7 + "BA BA").accept(":") == KEEP  # 8 repeated: 16
    assert row_after(REEL + BAR * 3 + "BA BA").accept(":") == KEEP  # 4 repeated: 8
    assert row_after(HEAD + BAR * 2 + "BA BA").accept(":") == KEEP  # no type with phrases: no rule
    row = row_after(REEL + BAR * 15 + "BA BA|")
    assert row.accept("B") == REJECT and "B" in row.refused and not {"|", "]"} & set(row.refused)
    assert row.accept("]") == KEEP  # the 16th bar's bar line closes the part: '|]', played once


def test_a_phrase_part_played_once_may_draw_its_bar_line_again_for_a_repeat():
    row = row_after(REEL + BAR * 7 + "BA BA|")
    row.undoable = True  # (the sampler says so when it kept the step's probabilities)
    assert row.accept("]") == UNDO  # '|]' closes 8 bars played once: the model may choose ':|' instead
    assert row.undo_last() == "|" and row.accept(":") == KEEP and row.accept("|") == KEEP
    row = row_after(REEL + BAR * 7 + "BA BA|")
    row.undoable = True
    assert row.accept("]") == UNDO and row.undo_last() == "|"
    assert row.accept("|") == KEEP and row.accept("]") == KEEP  # once a bar: then '|]' stands
    row = row_after(REEL + BAR * 7 + "BA BA|")
    row.undoable = True
    assert row.accept("B") == UNDO  # a plain '|' after 8 bars: the model may write ':|' there too
    assert row.undo_last() == "|" and row.accept("|") == KEEP and row.accept("B") == KEEP  # or go on, once


def test_the_cadence_draws_a_part_s_last_note_again_from_the_tonic_letters():
    row = row_after(REEL + BAR * 7 + "BA BA", cadence="tonic")
    assert row.accept(":") == NOTE_AGAIN and row.note_letters == "Gg"  # A is no tonic of G
    assert row.take_back_note() == "Gg" and row.text.endswith("BA B")
    assert row.accept("G") == KEEP and row.accept(":") == KEEP
    assert row_after(REEL + BAR * 7 + "BA BA").accept(":") == KEEP  # cadence None: any note
    assert row_after(REEL + BAR * 7 + "BA BB", cadence="triad").accept(":") == KEEP  # B: in G's triad
    row = row_after(REEL + BAR * 7 + "BA BA", cadence="triad")
    assert row.accept(":") == NOTE_AGAIN and row.note_letters == "DGBdgb"


def test_after_a_first_part_of_16_bars_every_part_is_16_bars():
    row = row_after(REEL + BAR * 7 + "BA BG:|!\n" + BAR * 7 + "BA BG|")  # A: 8 bars repeated; B: 8 bars
    assert row.accept("]") == REJECT and row.refused == ("|", "]", ":")  # B may not close played once ...
    row.undoable = True
    assert row.accept("]") == UNDO and row.undo_last() == "|"  # ... (the model may write ':|' instead)
    assert row.accept(":") == KEEP and row.accept("|") == KEEP  # ... but repeated, as A is
    row_after("!\n", row=row)
    assert row.accept("\n") == TUNE_DONE and tune_form(row.tune()).part_bars_played == [16, 16]
    row = row_after(REEL + BAR * 7 + "BA BG||!\n" + BAR * 7 + "BA BG|")  # A: 8 bars played once
    assert row.accept("]") == KEEP  # B may close after 8 bars too


def test_a_last_bar_completes_the_pickup():
    row = row_after(REEL + "A|" + BAR * 7 + "BA B:|!\nA|" + BAR * 15 + "BA BA|")  # pickups of 1/8
    assert row.accept("]") == ROLL_BACK and row.roll_back()  # a full last bar: 9/8 with the pickup
    row_after("BA B", row=row)
    assert row.accept("A") == REJECT  # the bar again, no longer than the pickup leaves
    assert row.accept("|") == KEEP and row.accept("]") == KEEP and row.accept("\n") == KEEP
    assert row.accept("\n") == TUNE_DONE and tune_form(row.tune()).completes_pickup


def test_a_field_abc2midi_does_not_allow_in_the_music_is_refused():
    row = row_after(HEAD + "BA BA|\n")
    assert row.accept("A") == KEEP and row.accept(":") == REJECT  # "A:" in the music: abc2midi's error
    assert row_after(HEAD + "BA BA|\nK:D\n").rhythm.ok  # a key change is fine


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
    body = "A|BA BA|BA B:|\nc|dc dc|[1 dc d:|[2 dc d|]\n\n"  # the collection's usual first ending
    row = row_after(HEAD + body[:-1])
    assert row.accept("\n") == TUNE_DONE
    tune = row.tune()
    assert "BA B::\nc" in tune and tune.endswith("dc d|]")
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
    triad = generate_tunes(model, 4, vocab=vocab, seed=3, batch_size=4, cadence="triad")
    assert generate_tunes(model, 4, vocab=vocab, seed=3, batch_size=4, cadence="triad") == triad != first


def test_the_header_is_drawn_at_its_own_temperature(pretrained):
    """Keys come from the header: cooled, every tune takes the model's favourite key; at the default
    1.0 the keys vary as the model learnt them, while the music keeps its own temperature."""
    model, vocab = pretrained
    cold = generate_tunes(model, 24, vocab=vocab, seed=5, batch_size=12, header_temperature=0.05)
    warm = generate_tunes(model, 24, vocab=vocab, seed=5, batch_size=12)
    assert len({tune_form(t).key for t in cold}) <= 2 < 4 <= len({tune_form(t).key for t in warm})
    same = generate_tunes(model, 4, vocab=vocab, seed=5, batch_size=4, header_temperature=None)
    assert generate_tunes(model, 4, vocab=vocab, seed=5, batch_size=4, header_temperature=0.7) == same != warm[:4]


def test_plain_tunes_are_generate_text_s_tunes_for_the_seed(pretrained):
    """guided=False is plain sampling: a row's first tune is the one generate_text writes with the seed."""
    from labutils.data import extract_song_snippet
    from labutils.params import GENERATION_DEFAULTS
    from labutils.sampling import generate_text

    model, vocab = pretrained
    tunes = generate_tunes(model, 4, vocab=vocab, seed=3, batch_size=4, guided=False)
    texts = generate_text(model, "X", 1500, vocab=vocab, num_samples=4, seed=3,
                          temperature=GENERATION_DEFAULTS["temperature"])
    firsts = [(extract_song_snippet(text) or [None])[0] for text in texts]
    assert tunes and tunes[0] in firsts  # (the first to end is a row's first tune)
    assert sum(tune in firsts for tune in tunes) >= 3  # (a row that ends early may begin a second)


def test_plain_sampling_has_no_cadence(pretrained):
    model, vocab = pretrained
    plain = generate_tunes(model, 4, vocab=vocab, seed=3, batch_size=4, guided=False)
    assert generate_tunes(model, 4, vocab=vocab, seed=3, batch_size=4, guided=False, cadence=None) == plain


def test_guided_tunes_keep_the_form(pretrained):
    """Two parts or more, phrase parts of 8 or 16 bars as played; the cadence on the tonic, unless asked not to."""
    model, vocab = pretrained
    forms = [tune_form(t) for t in generate_tunes(model, 16, vocab=vocab, seed=2, batch_size=8)]
    assert all(form.parts >= 2 for form in forms)
    played = [bars for form in forms if form.tune_type in PHRASE_TYPES for bars in form.part_bars_played]
    assert len(played) >= 16 and all(bars in (8, 16) for bars in played)
    assert sum(form.parts_on_tonic for form in forms) >= 12
    free = [tune_form(t) for t in generate_tunes(model, 16, vocab=vocab, seed=2, batch_size=8, cadence=None)]
    assert sum(form.parts_on_tonic for form in free) < sum(form.parts_on_tonic for form in forms)
    plain = [tune_form(t) for t in generate_tunes(model, 16, vocab=vocab, seed=2, batch_size=8, guided=False)]
    # What the guide is for: plain sampling leaves parts of other lengths and last bars that do not
    # complete the pickup.
    plain_played = [bars for form in plain if form.tune_type in PHRASE_TYPES for bars in form.part_bars_played]
    assert any(bars not in (8, 16) for bars in plain_played) or any(form.parts < 2 for form in plain)
    assert sum(form.completes_pickup for form in plain) < sum(form.completes_pickup for form in forms)


def test_the_guide_counts_parts_as_the_form_report_does():
    """The guide's phrases (the rhythm's bars, form.py's counting) against form.py's on the lab's tunes."""
    from labutils.data import load_training_data

    songs = load_training_data()
    same = 0
    for song in songs:
        bars = tune_bars(RhythmState().feed(song.rstrip("\n") + "\n"), "")
        same += played_bars(bars, split_parts(bars)) == tune_form(song).part_bars_played
    assert same >= 0.98 * len(songs)  # (the rest: a missing bar line or two)


class HostileModel(torch.nn.Module):
    """The shipped model, except that in the music it always proposes '|]' or ':|': after a note or a
    space, the characters '|', ']' and ':' get nearly all of the step."""

    def __init__(self, model, vocab, max_calls):
        super().__init__()
        self.model, self.vocab, self.calls, self.max_calls = model, vocab, 0, max_calls
        self.boost = torch.zeros(len(vocab))
        self.boost[[vocab.index(c) for c in "|]:"]] = 12.0
        self.last, self.in_music = {}, {}  # per row: the last input character, past a "K:" since the last "X:"

    def init_hidden(self, batch_size, device):
        return self.model.init_hidden(batch_size, device)

    def forward(self, x, state=None, return_state=False):
        self.calls += 1
        assert self.calls <= self.max_calls, "generate_tunes went on past its bounds"
        logits, state = self.model(x, state, return_state=True)  # (rows, 1, vocab)
        for row, char in enumerate(self.vocab[i] for i in x[:, -1].tolist()):
            pair, self.last[row] = self.last.get(row, "") + char, char
            self.in_music[row] = {"K:": True, "X:": False}.get(pair, self.in_music.get(row, False))
            if self.in_music[row] and char in "ABCDEFGabcdefg2 ":
                logits[row, -1] += self.boost
        return (logits, state) if return_state else logits


def test_the_guide_is_bounded_with_a_model_that_always_closes(pretrained):
    model, vocab = pretrained
    hostile = HostileModel(model, vocab, max_calls=12 * 4 * 400)  # starts (4 a tune + 2 a row) x 4 x max_chars
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (fewer tunes than asked is allowed, and said)
        tunes = generate_tunes(hostile, 2, vocab=vocab, seed=0, batch_size=2, max_chars=400)
    assert hostile.calls > 50  # (it wrote music)
    for tune in tunes:
        assert tune_form(tune).parts >= 2 and RhythmState().feed(tune + "\n").finish().ok


@pytest.mark.parametrize("kwargs, message", [
    ({"num_tunes": 0}, "num_tunes"), ({"num_tunes": -2}, "num_tunes"), ({"num_tunes": 2.5}, "num_tunes"),
    ({"temperature": 0}, "temperature"), ({"temperature": -1.0}, "temperature"),
    ({"temperature": float("nan")}, "temperature"), ({"temperature": float("inf")}, "temperature"),
    ({"start": "X\u00e9"}, "vocabulary"), ({"top_k": 0}, "top_k"), ({"cadence": "dominant"}, "cadence"),
    ({"header_temperature": 0}, "header_temperature"), ({"header_temperature": float("nan")}, "header_temperature"),
])
def test_generate_tunes_bad_arguments(model, kwargs, message):
    arguments = {"num_tunes": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate_tunes(model, arguments.pop("num_tunes"), **arguments)


def test_a_model_that_never_ends_a_tune_stops(model):
    with pytest.warns(UserWarning, match="only 0 of 2"):
        assert generate_tunes(model, 2, max_chars=60, seed=0) == []
