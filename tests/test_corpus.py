"""labutils.corpus: the lab's vocabulary and the text a run trains on."""
import numpy as np
import pytest

from labutils import corpus
from labutils.data import join_songs, load_training_data
from labutils.music.keys import key_counts
from labutils.text import decode


def test_lab_vocab_is_83_characters():
    vocab, char2idx, idx2char = corpus.lab_vocab()
    assert len(vocab) == 83 and vocab[0] == "\n" and vocab[1] == " "
    assert len(idx2char) == 83


def test_prepare_corpus_split_by_tune_and_vectorized():
    prepared = corpus.prepare_corpus(load_training_data(), 0.1, seed=0)
    assert len(prepared["vocab"]) == 83 and len(prepared["train_songs"]) == 724 and len(prepared["val_songs"]) == 80
    assert prepared["train"].dtype == np.int64
    assert decode(prepared["val"], prepared["idx2char"]) == join_songs(prepared["val_songs"])
    assert len(prepared["train"]) == len(join_songs(prepared["train_songs"]))


def test_prepare_corpus_with_transposed_training_tunes():
    songs = load_training_data()
    plain = corpus.prepare_corpus(songs, 0.1, seed=0)
    moved = corpus.prepare_corpus(songs, 0.1, seed=0, transpose=(-2, 2))
    assert moved["vocab"] == plain["vocab"] and moved["train_songs"] == plain["train_songs"]
    assert np.array_equal(moved["val"], plain["val"])  # held-out tunes stay as written
    training_text = decode(moved["train"], moved["idx2char"])
    assert training_text.startswith(join_songs(plain["train_songs"]))
    assert 2.9 * len(plain["train"]) < len(moved["train"]) < 3.1 * len(plain["train"])
    assert moved["transposed_tunes"] >= 0.97 * 2 * 724
    assert "K:F# Dorian" in training_text and "K:F# Dorian" not in join_songs(songs)  # from E dorian


def test_prepare_corpus_with_copies_in_the_traditions_keys():
    songs = load_training_data()
    plain = corpus.prepare_corpus(songs, 0.1, seed=0)
    moved = corpus.prepare_corpus(songs, 0.1, seed=0, transpose="tradition")
    assert np.array_equal(moved["val"], plain["val"]) and np.array_equal(moved["train_as_written"], plain["train"])
    training_text = decode(moved["train"], moved["idx2char"])
    assert training_text.startswith(join_songs(plain["train_songs"]))
    assert 700 <= moved["transposed_tunes"] <= 3 * 724
    keys, written = key_counts(training_text.split("\n\n")), key_counts(plain["train_songs"])
    assert keys["E major"] == written["E major"] and keys["A major"] > 2 * written["A major"]
    with pytest.raises(ValueError, match="semitones .* or 'tradition', got 'fifths'"):
        corpus.prepare_corpus(songs, 0.1, seed=0, transpose="fifths")


def test_the_cpu_default_trains_on_the_collections_mix_of_keys():
    from labutils.music.form import key_distance
    from labutils.params import CPU_PARAMS

    songs = load_training_data()
    moved = corpus.prepare_corpus(songs, 0.1, seed=0, transpose=CPU_PARAMS["transpose"])
    keys = key_counts(decode(moved["train"], moved["idx2char"]).split("\n\n"))
    assert sum(keys.values()) > 1.8 * len(moved["train_songs"])  # the copies are there
    assert key_distance(keys, key_counts(songs)) < 0.15  # a tone up and down: 0.55 (E, F and C major)

def test_training_corpus_reads_the_given_tunes_with_the_run_settings(tmp_path, capsys):
    tunes = load_training_data()[:10]
    (tmp_path / "tunes.abc").write_text("\n\n".join(tunes) + "\n", encoding="utf-8")
    plain = corpus.training_corpus({}, str(tmp_path / "tunes.abc"))
    assert sorted(plain["train_songs"] + plain["val_songs"]) == sorted(tunes) and len(plain["val_songs"]) == 1
    assert "train_as_written" not in plain and plain["extra"] is None
    moved = corpus.training_corpus({"transpose": [2]}, str(tmp_path / "tunes.abc"))
    assert np.array_equal(moved["train_as_written"], plain["train"]) and moved["transposed_tunes"] > 0
    assert len(moved["train"]) > len(plain["train"]) and np.array_equal(moved["val"], plain["val"])
    assert capsys.readouterr().out == ""  # no extra tunes asked: nothing said about them
