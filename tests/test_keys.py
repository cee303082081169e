"""labutils.music.keys: the keys of a collection, and copies of tunes into the keys the tradition plays."""
from collections import Counter

import pytest

from labutils.corpus import lab_vocab
from labutils.data import load_training_data
from labutils.music.bars import read_bars, tune_key
from labutils.music.form import key_distance
from labutils.music.keys import key_counts, shift_between, tradition_copies
from labutils.music.transpose import transposed_copies


def tune(key, body="DEFG ABcd|"):
    return f"X:1\nT:t\nM:4/4\nL:1/8\nK:{key}\n{body}]"


@pytest.fixture(scope="module")
def songs():
    return load_training_data()


def test_key_counts_by_tonic_and_mode():
    counts = key_counts([tune("G Major"), tune("G"), tune("Ador"), tune("A Dorian"), "X:1\nT:no key\nabc|"])
    assert counts == Counter({"G major": 2, "A dorian": 2})


@pytest.mark.parametrize("tonic,target,shift", [(2, 7, 5), (7, 2, -5), (2, 9, -5), (9, 2, 5), (7, 7, 0), (0, 6, -6)])
def test_shift_between_takes_the_shorter_way(tonic, target, shift):
    assert shift_between(tonic, target) == shift


def test_copies_go_only_into_keys_of_the_same_mode_that_the_reference_plays():
    reference = [tune("G Major")] * 6 + [tune("D Major")] * 3 + [tune("E Minor")] * 2 + [tune("C Major")]
    copies = tradition_copies([tune("A Major"), tune("B Minor")], reference=reference, draws=20)
    assert sorted(tune_key(c).name for c in copies) == ["C major", "D major", "E minor", "G major"]
    moved = next(c for c in copies if tune_key(c).name == "G major")
    # A major down a tone: every pitch 2 semitones lower, the rhythm as it was
    original = read_bars(tune("A Major"))[0].notes
    assert [(p - 2, n) for p, n in original] == list(read_bars(moved)[0].notes)


def test_rare_keys_and_the_tunes_own_key_make_no_copy():
    reference = [tune("G Major")] * 99 + [tune("F Major")]
    assert tradition_copies([tune("G Major")] * 5, reference=reference, draws=4) == []
    assert len(tradition_copies([tune("G Major")], reference=reference, draws=200, floor=0.005)) == 1


def test_copies_are_seeded_and_respect_the_alphabet(songs):
    some = songs[:100]
    assert tradition_copies(some, seed=3) == tradition_copies(some, seed=3)
    assert tradition_copies(some, seed=3) != tradition_copies(some, seed=4)
    alphabet = set(lab_vocab()[0])
    assert all(set(copy) <= alphabet for copy in tradition_copies(some, alphabet=alphabet))
    assert tradition_copies(some, alphabet=set("X:1")) == []


def test_the_training_text_keeps_the_collections_mix_of_keys(songs):
    real = key_counts(songs)
    with_copies = key_counts(list(songs) + tradition_copies(songs))
    a_tone_away = key_counts(list(songs) + transposed_copies(songs, (-2, 2)))
    assert key_distance(with_copies, real) < 0.1 < 0.4 < key_distance(a_tone_away, real)
    assert with_copies["E major"] == real["E major"]  # under 1% of the tunes: nothing moves there
    assert sum(with_copies.values()) > 1.8 * len(songs)
