import numpy as np
import pytest
import torch

from labutils import text


def test_build_vocab_sorted_and_inverse():
    vocab, char2idx, idx2char = text.build_vocab("hello world")
    assert vocab == sorted(set("hello world"))
    assert all(idx2char[char2idx[c]] == c for c in vocab)


def test_lab_vocab_is_83_characters():
    vocab, char2idx, idx2char = text.lab_vocab()
    assert len(vocab) == 83 and vocab[0] == "\n" and vocab[1] == " "
    assert len(idx2char) == 83


def test_vectorize_round_trip_and_dtype():
    vocab, char2idx, idx2char = text.lab_vocab()
    s = "X:1\nT:Test\nK:D Major\n|:ABc d2e:|"
    vec = text.vectorize_string(s, char2idx)
    assert isinstance(vec, np.ndarray) and vec.dtype == np.int64 and vec.shape == (len(s),)
    assert text.decode(vec, idx2char) == s
    assert text.decode(torch.from_numpy(vec), idx2char) == s


def test_unknown_characters_are_named():
    _, char2idx, _ = text.lab_vocab()
    with pytest.raises(ValueError, match="not in the vocabulary: '\\$', '%'"):
        text.vectorize_string("ab%c$", char2idx)


def test_decode_out_of_range():
    with pytest.raises(ValueError, match="out of range"):
        text.decode([0, 5], ["a", "b"])


def test_prepare_corpus_split_by_tune_and_vectorized():
    from labutils.data import join_songs, load_training_data

    corpus = text.prepare_corpus(load_training_data(), 0.1, seed=0)
    assert len(corpus["vocab"]) == 83 and len(corpus["train_songs"]) == 724 and len(corpus["val_songs"]) == 80
    assert corpus["train"].dtype == np.int64
    assert text.decode(corpus["val"], corpus["idx2char"]) == join_songs(corpus["val_songs"])
    assert len(corpus["train"]) == len(join_songs(corpus["train_songs"]))


def test_prepare_corpus_with_transposed_training_tunes():
    from labutils.data import join_songs, load_training_data

    songs = load_training_data()
    plain = text.prepare_corpus(songs, 0.1, seed=0)
    moved = text.prepare_corpus(songs, 0.1, seed=0, transpose=(-2, 2))
    assert moved["vocab"] == plain["vocab"] and moved["train_songs"] == plain["train_songs"]
    assert np.array_equal(moved["val"], plain["val"])  # held-out tunes stay as written
    training_text = text.decode(moved["train"], moved["idx2char"])
    assert training_text.startswith(join_songs(plain["train_songs"]))
    assert 2.9 * len(plain["train"]) < len(moved["train"]) < 3.1 * len(plain["train"])
    assert moved["transposed_tunes"] >= 0.97 * 2 * 724
    assert "K:F# Dorian" in training_text and "K:F# Dorian" not in join_songs(songs)  # from E dorian
