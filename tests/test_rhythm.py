"""The rhythm model: every construct on hand-written bars, and agreement with abc2midi on the collection."""
import re
import shutil
import subprocess
from fractions import Fraction as F

import pytest

from labutils.music.rhythm import RhythmState, apply_repeat_fixes, bad_bar_count, default_unit, meter_length

HEAD = "X:1\nT:t\nM:2/4\nL:1/8\nK:G\n"


def state(body, head=HEAD):
    return RhythmState().feed(head + body)


@pytest.mark.parametrize("body", [
    "A|BA BA|", "A|B>A B<A|", "A|B>>A B2|", "A|(3BAB A2|", "A|(3:2:3BAB A2|", "A|{gag}BA B-B|", 'A|"Am"BA ~B.A|',
    "A|[BD]A [B2D2]|", "A|B/A/B/A/ BA|", "A|B//A//B//A//B3/2A/ A|", "A|^B_A =B^^A|", "A|B,A' BA|",
    "A|BA !trill!BA|", "A|BA BA|!\nBA BA|", "A|[M:3/4]BA BA BA|", "A|[L:1/16]BABA BABA|", "A|z2 x2|",
    "A|(BA) (BA)|", "A|BA B:|\nA|BA B:|", "A|BA BA|[1 BA B:|[2 BA BA|]", "A|BA B|]A|BA BA|", "|:A|BA BA|BA B:|",
    "BA BA|BA BA::BA BA|BA BA:|", "BA BA|BA BA:|\nM:3/4\nBA BA BA|",
])
def test_bars_of_the_right_length_pass(body):
    s = state(body + " ")
    assert s.ok, s.violations
    assert s.where == "body" and s.bar_fill == 0 or s.bar_fill == s.carry


@pytest.mark.parametrize("body, what", [
    ("A|BA B|A", "bar 1 has 3/8"),
    ("A|BA BA|BA BA BA|", "overflows"),
    ("A|B>A BA B|", "overflows"),
    ("A|(3BAB A|B", "bar 1 has 3/8"),
    ("A|[M:3/4]BA BA|B", "bar 1 has 1/2 of a whole note, the meter 3/4"),
    ("A|BA BA|BA B:|BA BA|", "bar 2 has 7/8"),  # a section's short end joins the next bar
    ("A|BA BA|BA BA:|", "bar 0 has 1/8"),  # the repeat plays the pickup again, alone
    ("A|BA BA||A|BA BA|", "bar 2 has 1/8"),  # a pickup after a full section end
])
def test_wrong_bars_are_flagged(body, what):
    s = state(body + " ")
    assert not s.ok and any(what in v for v in s.violations), s.violations


def test_lengths_meters_and_where():
    assert meter_length("6/8") == F(3, 4) and meter_length("C") == 1 and meter_length("C|") == 1
    assert meter_length("none") is None and default_unit(F(1, 2)) == F(1, 16) and default_unit(F(3, 4)) == F(1, 8)
    s = RhythmState().feed("X:1\nM:6/8\n")
    assert s.where == "header"
    s.feed("K:G\nD|GED D")
    assert s.where == "body" and s.unit == F(1, 8) and s.bar_length == F(3, 4) and s.in_note
    assert s.bar_fill == F(1, 2)
    assert s.allows("ED|") and not s.allows("|") and not s.allows("EDE|")
    assert s.ok  # allows() leaves the state alone
    copy = s.copy().feed("ED|A")
    assert copy.bars_written == s.bars_written + 1 and s.bar_fill == F(1, 2)
    s.feed("ED|A\n\n")
    assert s.where == "done"


def test_free_meter_checks_nothing():
    assert state("ABCDEFG|A|", head="X:1\nM:none\nL:1/8\nK:C\n").feed(" ").ok


def test_first_ending_after_a_repeat_gets_its_section_start_written_out():
    tune = HEAD + "A|BA BA|BA B:|\nc|dc dc|\n[1 dc d:|\n[2 dc d2|]\n"
    s = RhythmState().feed(tune)
    fixed = apply_repeat_fixes(tune, s.repeat_fixes)
    assert "BA B::" in fixed and fixed.count(":|") == 1


ABC2MIDI = shutil.which("abc2midi")


@pytest.mark.skipif(ABC2MIDI is None, reason="abc2midi is not installed (apt install abcmidi)")
def test_agrees_with_abc2midi_on_the_training_tunes(tmp_path):
    """Same flagged bar numbers as abc2midi on 790 of the 804 tunes, same tune verdict on 801.

    The 14 differences: 3 tunes (X:13, X:121, X:9) have a section with a
    repeat after a second ending closed by |]; abc2midi starts that repeat after the |] with
    an empty bar, this model replays from the previous :| and flags bars abc2midi does not
    (stricter, which is the safe side for a sampler). 11 tunes get the same verdict with other
    bar numbers, around first/second endings (abc2midi's numbering of skipped endings).
    """
    from labutils.data import load_training_data
    from labutils.music.abc import prepare_tune
    from labutils.music.rhythm import tune_warnings

    tunes = load_training_data()
    same_bars = same_verdict = 0
    for tune in tunes:
        text = prepare_tune(tune)
        path = tmp_path / "t.abc"
        path.write_text(text)
        out = subprocess.run([ABC2MIDI, str(path), "-o", str(tmp_path / "t.mid"), "-silent"], capture_output=True,
                             text=True, timeout=30)
        theirs = {int(n) for n in re.findall(r"Bar (\d+) has", out.stdout + out.stderr)}
        ours = {w[0] for w in tune_warnings(text)}
        same_bars += theirs == ours
        same_verdict += bool(theirs) == bool(ours)
    assert len(tunes) == 804
    assert same_verdict >= 801 and same_bars >= 790, (same_verdict, same_bars)


def test_bad_bar_count_on_a_tune():
    assert bad_bar_count(HEAD + "A|BA B|A|BA BA|\n") == 2
    assert bad_bar_count(HEAD + "A|BA BA|BA B:|\n") == 0
