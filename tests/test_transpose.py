import random

import pytest

from labutils.corpus import lab_vocab
from labutils.data import load_training_data
from labutils.music.transpose import TransposeError, transpose_tune, transposed_copies

TUNE = """X:1
T:Test
M:4/4
L:1/8
K:D Mixolydian
A,DFA dfa^c|=c2 B,2 _B2 b2|!
c'2 "Verse" [DF] z2 c2|]"""


@pytest.fixture(scope="module")
def songs():
    return load_training_data()


def sounding_pitches(tune):
    """(MIDI pitch, quarter length) of every note as music21 reads the tune."""
    from music21 import converter

    score = converter.parse(tune, format="abc")
    return [(p.midi, n.quarterLength) for n in score.flatten().notes for p in n.pitches]


def test_up_a_tone_by_hand():
    assert transpose_tune(TUNE, 2).split("\n")[4:] == [
        "K:E Mixolydian",
        "B,EGB egb^d|=d2 C2 =c2 c'2|!",
        "d'2 \"Verse\" [EG] z2 d2|]",
    ]


def test_down_a_tone_by_hand_keeps_headers_and_quoted_text():
    moved = transpose_tune(TUNE, -2).split("\n")
    assert moved[:4] == TUNE.split("\n")[:4]
    assert moved[4:] == ["K:C Mixolydian", "G,CEG ceg=B|_B2 A,2 _A2 a2|!", "b2 \"Verse\" [CE] z2 B2|]"]


@pytest.mark.parametrize("semitones", [-2, -1, 1, 2, 5])
def test_every_note_moves_by_the_same_interval(semitones):
    original = sounding_pitches(TUNE)
    moved = sounding_pitches(transpose_tune(TUNE, semitones))
    assert [(pitch + semitones, length) for pitch, length in original] == moved


def test_collection_tunes_sound_a_tone_higher_and_lower(songs):
    sample = random.Random(0).sample(songs, 12)
    for song in sample:
        original = sounding_pitches(song)
        for shift in (-2, 2):
            assert sounding_pitches(transpose_tune(song, shift)) == [(p + shift, q) for p, q in original]


def test_comment_lines_stay_as_written():
    tune = "X:3\nT:Comment\nK:G\n% from a book, page 12\nGABc|]"
    assert transpose_tune(tune, 2).split("\n")[3:] == ["% from a book, page 12", "ABcd|]"]


def test_key_change_inside_a_tune():
    tune = "X:2\nT:Two keys\nM:2/4\nL:1/8\nK:G\nGABc|d2 ^c2|\nK:D Dorian\nDEFG|A2 ^F2|]"
    moved = transpose_tune(tune, 2)
    assert "K:A\n" in moved and "K:E Dorian" in moved
    assert [p + 2 for p, _ in sounding_pitches(tune)] == [p for p, _ in sounding_pitches(moved)]


def test_spelling_with_fewest_sharps_or_flats():
    assert "K:Eb Major" in transpose_tune("X:1\nK:D Major\nD", 1)  # not D#: 9 sharps
    assert "K:G# Minor" in transpose_tune("X:1\nK:F# Minor\nF", 2)  # 5 sharps, not Ab minor's 7 flats
    assert "K:Bb Dorian" in transpose_tune("X:1\nK:A Dorian\nA", 1)


def test_bad_tunes_say_what_is_wrong():
    with pytest.raises(TransposeError, match="no K:"):
        transpose_tune("X:1\nT:no key\nABC", 2)
    with pytest.raises(TransposeError, match="unknown mode"):
        transpose_tune("X:1\nK:D Wibble\nABC", 2)
    with pytest.raises(TransposeError, match="triple"):
        transpose_tune("X:1\nK:C\n^^B", 2)  # B## (the 7th raised twice) in D major: C###
    assert transpose_tune(TUNE, 0) is TUNE


def test_transposed_copies_of_the_collection_stay_in_the_vocabulary(songs):
    vocab = set(lab_vocab()[0])
    copies = transposed_copies(songs, (-2, 2), alphabet=vocab)
    assert len(copies) >= 0.97 * 2 * len(songs)
    assert all(set(copy) <= vocab for copy in copies)
    assert sum(copy == song for copy in copies for song in songs[:5]) == 0
