"""Tune form: the bar reader on hand-written bars, the form of hand-written tunes, the real collection's
figures, and the reader's notes against abc2midi's."""
import json
import random
import re
import shutil
from collections import Counter
from fractions import Fraction

import pytest

from labutils.data import load_training_data
from labutils.music.bars import BOTH, DOUBLE, END, FINAL, PLAIN, START, read_bars, read_key, read_length
from labutils.music.form import form_summary, form_table, key_distance, play_order, tune_form, tune_type
from labutils.music.transpose import transpose_tune

HEAD = "X:1\nT:Test\nR:{kind}\nM:{meter}\nL:1/8\nK:{key}\n"

REEL = HEAD.format(kind="reel", meter="C|", key="D") + """A|d2fd AdFA|G2BG FGAB|c2ec dcBA|GFEF GABc|!
d2fd AdFA|G2BG FGAB|c2ec dcBA|d2f2 d3:|!
e|f2af d2fd|g2bg e2ge|f2af d2fd|edcB A3e|!
f2af d2fd|g2bg e2ge|fdec dcBA|d2f2 d3:|!
"""

JIG = HEAD.format(kind="jig", meter="6/8", key="G Major") + """D|GAG GBd|edB dBA|GAG GBd|edB A2D|
GAG GBd|edB dBG|[1 ABA AGE|G3 G2:|[2 ABA AGF|G3 G2||
|:B|dBd gfg|aga bag|dBd gfg|afd d2B|dBd gfg|aga bag|faf gfe|dBA G2:|]
"""

ONE_PART = HEAD.format(kind="waltz", meter="3/4", key="Am") + "A2 B2 c2|e4 d2|c2 B2 A2|E6|A2 B2 c2|e4 d2|c2 B2 G2|A6|]\n"

BOTH_SIGNS = HEAD.format(kind="polka", meter="2/4", key="A Dorian") + """|:AB cd|ed cA|GE GA|Bc d2|AB cd|ed cA|GE DE|A2 A2::
ea ag|ed ef|ge dB|GA Bd|ea ag|ed ef|ge dB|A2 A2:|
"""


def bar_lengths(body, meter="4/4", unit="1/8"):
    return [bar.length for bar in read_bars(f"X:1\nM:{meter}\nL:{unit}\nK:C\n{body}\n")]


# --- the bar reader ----------------------------------------------------------------------------------
@pytest.mark.parametrize("body, lengths", [
    ("(3ABc d2 e>f [ceg]2|", [Fraction(1)]),  # a triplet, broken rhythm, a chord: 2 + 2 + 2 + 2 eighths
    ("{ga}A2 ~B2 !trill!c2 \"Am\"d2|", [Fraction(1)]),  # grace notes take no time; decorations, chord symbols none
    ("A/B/c/d/ e3/2f/ g4|", [Fraction(1)]),  # halves, 3/2
    ("A//B//c//d// e f2 g2 a2|", [Fraction(1)]),  # quarters
    ("a<b c'>>d, z4|", [Fraction(1)]),  # '<' and '>>' (7/4 and 1/4 of the pair's lengths)
    ("(3:2:6ABcdef g2 a2|", [Fraction(1)]),  # (p:q:r: the next six notes take 2/3 of their length
    ("A2-A2 B2 C2|D8|", [Fraction(1), Fraction(1)]),  # a tie changes nothing
    ("[C2E2G2]2 [CEG]4|", [Fraction(1)]),  # a chord takes its first note's length times its own
])
def test_bar_lengths_are_exact(body, lengths):
    assert bar_lengths(body) == lengths


def test_default_unit_and_compound_tuplets():
    assert bar_lengths("ABCD EFGA|", meter="2/4", unit="1/16")[0] == Fraction(1, 2)
    assert read_bars("X:1\nM:2/4\nK:C\nABCD EFGA|\n")[0].length == Fraction(1, 2)  # no L:: 1/16 below 3/4
    assert read_bars("X:1\nM:6/8\nK:C\n(5ABcde f3|\n")[0].length == Fraction(3, 4)  # (5 in 6/8: 5 in the time of 3


@pytest.mark.parametrize("text, units", [("", 1), ("2", 2), ("/", Fraction(1, 2)), ("//", Fraction(1, 4)),
                                         ("3/2", Fraction(3, 2)), ("/4", Fraction(1, 4)), ("3//", Fraction(3, 4))])
def test_note_lengths_as_abc2midi_reads_them(text, units):
    assert read_length(text) == units


def test_pitches_follow_key_signature_accidentals_and_octaves():
    bars = read_bars("X:1\nL:1/8\nK:D\nFcf C,c' ^G=F F g|F _B B2 B4|\n")
    pitches = [p for p, _ in bars[0].notes]
    # F# C#5 F#5 C#3 C#6, then ^G and =F last to the bar's end in every octave (abc2midi's reading)
    assert pitches == [66, 73, 78, 49, 85, 68, 65, 65, 80]
    assert [p for p, _ in bars[1].notes] == [66, 70, 70, 70]  # the bar line ends them


@pytest.mark.parametrize("value, tonic, mode", [
    ("D Major", 2, "major"), ("Ador", 9, "dorian"), ("F#m", 6, "minor"), ("Bb mix", 10, "mixolydian"),
    (" E Minor", 4, "minor"), ("G", 7, "major"), ("C Lydian", 0, "lydian")])
def test_keys(value, tonic, mode):
    key = read_key(value)
    assert (key.tonic, key.mode) == (tonic, mode)


def test_modal_signatures():
    dorian = read_bars("X:1\nL:1/8\nK:E Dorian\nFcBf|\n")[0]
    mixolydian = read_bars("X:1\nL:1/8\nK:D Mixolydian\nFcBf|\n")[0]
    assert [p for p, _ in dorian.notes] == [66, 73, 71, 78]  # one sharp: F#, and C# of E dorian's
    assert [p for p, _ in mixolydian.notes] == [66, 72, 71, 78]  # D mixolydian: F# but C natural
    assert read_key("none") is None and read_key("Dxyz") is None


@pytest.mark.parametrize("body, lines, endings", [
    ("AB|cd||ef|]", [PLAIN, DOUBLE, FINAL], [None] * 3),
    ("AB|:cd:|ef::gA:|:Bc|]", [START, END, BOTH, BOTH, FINAL], [None] * 5),
    ("AB|[1 cd:|[2 ef|]gA|", [PLAIN, END, FINAL, PLAIN], [None, 1, 2, None]),
    ("AB|1 cd:|2 ef||", [PLAIN, END, DOUBLE], [None, 1, 2]),
    ("AB:|\n|:cd|", [BOTH, PLAIN], [None, None]),  # ':|' then '|:' across a line: one '::'
    ("AB[|cd|", [DOUBLE, PLAIN], [None, None]),
])
def test_bar_lines_and_endings(body, lines, endings):
    bars = read_bars("X:1\nL:1/8\nK:C\n" + body + "\n")
    assert [b.line for b in bars] == lines
    assert [b.ending for b in bars] == endings


def test_fields_inline_fields_comments_and_line_ends():
    tune = "X:1\nM:3/4\nL:1/8\nK:G\nABc def|!\n% a comment |||\nM:2/4\nABcd|[M:6/8]ABc def|[K:F]B2|\nD:|\n"
    bars = read_bars(tune)
    assert [b.length for b in bars] == [Fraction(3, 4), Fraction(1, 2), Fraction(3, 4), Fraction(1, 4),
                                        Fraction(1, 8)]
    assert [b.meter for b in bars][:3] == [Fraction(3, 4), Fraction(1, 2), Fraction(3, 4)]
    assert bars[3].notes[0][0] == 70 and bars[3].key.name == "F major"  # B flat after [K:F]
    assert bars[4].line == END  # 'D:|' at a line start is a note, not a field
    assert read_bars("X:1\nT:no key\nABC|") == []
    assert len(read_bars("X:1\nK:C\nABCD|\n% a comment\n\nX:2\nK:C\nABCD|EFGA|\n")) == 1  # a blank line ends it


# --- the form of hand-written tunes ------------------------------------------------------------------
def test_aabb_reel_with_a_pickup():
    form = tune_form(REEL)
    assert (form.tune_type, form.key, form.parts, form.bars_per_part) == ("reel", "D major", 2, [8, 8])
    assert form.repeated == [True, True] and form.part_bars_played == [16, 16] and form.bars_played == 32
    assert form.two_part_32 and form.dance
    assert (form.pickup, form.last_bar, form.completes_pickup) == (Fraction(1, 8), Fraction(7, 8), True)
    assert form.last_on_tonic and form.parts_on_tonic and form.in_triad
    assert form.phrase_returns == [True, True]
    # 16 bars: A's bars 5-7 restate 1-3; B's 3 and 5 its 1, its 6 its 2, its last A's last
    assert (form.bars_written, form.bars_repeating) == (16, 7)


def test_jig_with_first_and_second_endings_and_a_start_repeat():
    form = tune_form(JIG)
    assert form.tune_type == "jig" and form.parts == 2 and form.bars_per_part == [8, 8]
    assert form.endings == [2, 0] and form.repeated == [True, True] and form.bars_played == 32
    assert form.two_part_32 and form.completes_pickup
    assert form.phrase_returns == [True, True]
    bars = read_bars(JIG)
    order = play_order(bars)
    first_ending, second_ending = [i for i, b in enumerate(bars) if b.ending == 1], \
        [i for i, b in enumerate(bars) if b.ending == 2]
    assert order[:17] == list(range(7)) + first_ending + list(range(7)) + second_ending[:1]  # common, 1, common, 2


def test_one_part_tune():
    form = tune_form(ONE_PART)
    assert (form.tune_type, form.key, form.parts, form.bars_per_part) == ("waltz", "A minor", 1, [8])
    assert form.repeated == [False] and form.bars_played == 8 and not form.dance and not form.two_part_32
    assert form.pickup == 0 and form.completes_pickup and form.last_on_tonic
    assert form.phrase_returns == [True]


def with_last_bar(tune, bar):
    """The tune with its last bar 'd2f2 d3' written as `bar`."""
    before, _, after = tune.rpartition("d2f2 d3")
    return before + bar + after


def test_tune_ending_off_the_tonic():
    on_the_third = tune_form(with_last_bar(REEL, "d2f2 f3"))
    assert on_the_third.last_degree == 4 and not on_the_third.last_on_tonic and on_the_third.in_triad
    assert on_the_third.part_degrees == [0, 4] and not on_the_third.parts_on_tonic
    on_the_second = tune_form(with_last_bar(REEL, "d2f2 e3"))
    assert on_the_second.last_degree == 2 and on_the_second.in_triad is False
    short = tune_form(with_last_bar(REEL, "d2f2 d2"))  # 1/8 + 6/8: a bar too short
    assert not short.completes_pickup and not short.last_bar_complete
    full = tune_form(with_last_bar(REEL, "d2f2 d4"))  # a whole last bar after a pickup
    assert not full.completes_pickup and full.last_bar_full and full.last_bar_complete


def test_minor_and_modal_keys():
    minor = tune_form(ONE_PART.replace("A6|]", "c6|]"))
    assert minor.last_degree == 3 and minor.in_triad  # C in A minor: the minor third
    dorian = tune_form(BOTH_SIGNS)
    assert dorian.key == "A dorian" and dorian.last_on_tonic and dorian.parts_on_tonic
    mixolydian = tune_form(REEL.replace("K:D", "K:D Mixolydian"))
    assert mixolydian.key == "D mixolydian" and mixolydian.last_on_tonic


def test_double_colon_between_parts():
    form = tune_form(BOTH_SIGNS)
    assert form.tune_type == "polka" and form.parts == 2 and form.bars_per_part == [8, 8]
    assert form.repeated == [True, True] and form.bars_played == 32 and form.two_part_32
    assert form.phrase_returns == [True, True]
    bars = read_bars(BOTH_SIGNS)
    assert play_order(bars) == list(range(8)) * 2 + list(range(8, 16)) * 2


def test_repeats_as_abc2midi_places_them():
    a_part = "AB cd|ed cA|GE GA|Bc d2|AB cd|ed cA|GE DE|A2 A2"
    b_part = "ea ag|ed ef|ge dB|GA Bd|ea ag|ed ef|ge dB|A2 A2"
    head = HEAD.format(kind="polka", meter="2/4", key="A Dorian")
    first_sign = tune_form(f"{head}{a_part}|]\n{b_part}:|\n")  # the first ':|' goes back to the tune's start
    assert first_sign.part_bars_played == [16, 16] and first_sign.repeated == [True, True]
    later = tune_form(f"{head}{a_part}:|\n{b_part}|]\n{a_part}:|\n")  # a later one to its own part's start
    assert later.part_bars_played == [16, 8, 16]
    unrepeated = tune_form(f"{head}{a_part}||\n{b_part}|]\n")
    assert unrepeated.repeated == [False, False] and unrepeated.bars_played == 16 and not unrepeated.two_part_32


def test_restating_ignores_spacing_decorations_and_chord_symbols_but_not_notes():
    head = HEAD.format(kind="reel", meter="C|", key="C")
    same = tune_form(head + 'cdef gfed|~c d e f "G7"g{a}fed|=cdef gfe!trill!d|]\n')
    assert same.bars_repeating == 2
    different = tune_form(head + "cdef gfed|cdef gfe2|c2ef gfed|^cdef gfed|]\n")
    assert different.bars_repeating == 0


def test_tune_types():
    assert tune_type("X:1\nT:a\nR:Slip jig\nK:G\nABc|") == "slip jig"
    assert tune_type("X:1\nT:a\nZ: id:dc-setdance-3\nK:G\nABc|") == "set dance"
    assert tune_type("X:1\nT:a\nZ: id:dc-reel-386\nK:G\nABc|") == "reel"
    assert tune_type("X:1\nK:G\nABc|") is None


# --- many tunes --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def songs():
    return load_training_data()


@pytest.fixture(scope="module")
def real_summary(songs):
    return form_summary(songs)


@pytest.mark.parametrize("share, low, high", [
    ("two_part_32", 0.60, 0.70), ("one_part", 0.0, 0.01), ("completes_pickup", 0.97, 1.0),
    ("last_bar_complete", 0.97, 1.0), ("last_in_triad", 0.78, 0.88),
    ("last_on_tonic", 0.70, 0.80), ("parts_on_tonic", 0.66, 0.76), ("phrase_return", 0.70, 0.82),
    ("bar_repetition", 0.27, 0.37)])
def test_the_real_collection(real_summary, share, low, high):
    """Near the issue's figures for the 804 tunes (where this reader differs, benchmarks/README says why)."""
    assert low <= real_summary[share] <= high


def test_counts_behind_the_shares(real_summary, songs):
    counts = real_summary["counts"]
    assert counts["tunes"] == len(songs) and 600 < counts["dance_tunes"] < 700
    assert counts["eight_bar_parts"] > 2 * counts["dance_tunes"] * 0.9  # nearly every dance part has 8 bars
    assert real_summary["keys"].most_common(2)[0][0] in ("G major", "D major")


def test_key_distance():
    assert key_distance({"G major": 3}, Counter({"G major": 10})) == 0
    assert key_distance({"G major": 3}, {"E major": 1}) == 1
    assert key_distance({"G major": 1, "D major": 1}, {"G major": 1}) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        key_distance({}, {"G major": 1})


def test_form_table_prints_one_column_per_group(songs, capsys):
    sample = random.Random(1).sample(songs, 100)
    moved = [transpose_tune(song, 2) for song in sample]  # D major -> E major, G -> A: keys the real ones seldom use
    summaries = form_table({"real": songs, "moved": moved})
    table = capsys.readouterr().out
    assert table.splitlines()[0] == f"| | real ({len(songs)}) | moved (100) |"
    assert "| 8-bar parts whose bar 5 or 6 restates bar 1 or 2 |" in table
    assert summaries["real"]["key_distance"] < 0.15  # a sample of 100 real tunes against all of them
    assert summaries["moved"]["key_distance"] > 0.5
    assert abs(summaries["moved"]["phrase_return"] - summaries["real"]["phrase_return"]) < 0.1  # same form
    assert re.search(r"\| keys: .* \| 0\.\d\d \| 0\.\d\d \|", table)
    with pytest.raises(TypeError):
        form_summary(songs[0])


# --- against abc2midi ------------------------------------------------------------------------------
def _played_notes(tune):
    """(onset in whole notes from the first note, pitch) of every note as this reader plays the tune."""
    bars, now, notes = read_bars(tune), Fraction(0), []
    for i in play_order(bars):
        for pitch, length in bars[i].notes:
            notes += [(now, p) for p in (pitch if isinstance(pitch, tuple) else (pitch,)) if p is not None]
            now += length
    return sorted((float(onset - notes[0][0]), pitch) for onset, pitch in notes)


@pytest.mark.skipif(shutil.which("abc2midi") is None, reason="abc2midi is not installed (apt install abcmidi)")
def test_notes_and_onsets_agree_with_abc2midi(songs):
    """The same pitches at the same times as abc2midi plays them, repeats included.

    Tunes with ties or chord symbols are left out (abc2midi sounds a tie as one note and plays
    chord symbols). Every tune without numbered endings agrees; with endings, abc2midi's habit
    that form.py does not copy (see its docstring) sends some elsewhere.
    """
    from labutils.music.play import song_notes

    plain = [s for s in songs if "-" not in s.split("\nK:", 1)[1] and '"' not in s]
    with_endings = [s for s in plain if re.search(r"\[1|\|1", s)]
    sample = random.Random(0).sample([s for s in plain if s not in with_endings], 120) + with_endings
    disagree = []
    for tune in sample:
        notes = song_notes(tune, backend="abc2midi", max_seconds=10_000)
        first = min(n.start for n in notes)
        theirs = sorted(((n.start - first) / 2, n.pitch) for n in notes)  # 2 s a whole note at Q:1/4=120
        ours = _played_notes(tune)
        if len(ours) != len(theirs) or any(p != q or abs(a - b) > 1e-3 for (a, p), (b, q) in zip(ours, theirs)):
            disagree.append(tune)
    assert not [t for t in disagree if t not in with_endings]
    assert len(disagree) < 0.4 * len(with_endings)


def test_the_benchmark_measures_plain_and_guided_tunes_of_the_shipped_model(tmp_path, capsys):
    from benchmarks import form as form_benchmark

    out = tmp_path / "form.json"
    assert form_benchmark.main(["--tunes", "3", "--seeds", "0", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| | real (804) | plain (3) | guided (3) |" in printed
    results = json.loads(out.read_text())["results"]["0"]
    assert set(results) == {"real", "plain", "guided", "seconds"}
    assert results["guided"]["counts"]["tunes"] == 3 and 0 <= results["guided"]["key_distance"] <= 1


def test_bars_know_where_they_stand_in_the_text():
    spans = [REEL[slice(*bar.span)] for bar in read_bars(REEL)]
    assert spans[:3] == ["A|", "d2fd AdFA|", "G2BG FGAB|"] and spans[8] == "d2f2 d3:|"
    jig = [JIG[slice(*bar.span)] for bar in read_bars(JIG)]
    assert jig[7:11] == ["ABA AGE|", "G3 G2:|", "ABA AGF|", "G3 G2||"]  # an ending sign stands between bars
    assert "".join(spans) == REEL.split("K:D\n")[1].replace("!\n", "")  # every sign in one bar or another


def test_garbled_tunes_are_read_without_error(songs):
    """What a model writes can be anything: a form for every text, never an exception."""
    rng = random.Random(0)
    alphabet = sorted(set("".join(songs)))
    for _ in range(300):
        text = list(rng.choice(songs))
        for _ in range(rng.randint(1, 60)):
            text[rng.randrange(len(text))] = rng.choice(alphabet)
        tune_form("".join(text))
    for text in ["", "X:1", "X:1\nK:G\n", "X:1\nK:G\n::|:|[1[2", "X:1\nL:0/0\nK:G\nA/0|0B|99999c|", "X:1\nK:G\n(0a(3:0:0b|"]:
        assert tune_form(text).bars_played >= 0
