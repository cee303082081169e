import numpy as np
import pytest
import torch

from labutils import text
from labutils.corpus import lab_vocab


def test_build_vocab_sorted_and_inverse():
    vocab, char2idx, idx2char = text.build_vocab("hello world")
    assert vocab == sorted(set("hello world"))
    assert all(idx2char[char2idx[c]] == c for c in vocab)


def test_vectorize_round_trip_and_dtype():
    vocab, char2idx, idx2char = lab_vocab()
    s = "X:1\nT:Test\nK:D Major\n|:ABc d2e:|"
    vec = text.vectorize_string(s, char2idx)
    assert isinstance(vec, np.ndarray) and vec.dtype == np.int64 and vec.shape == (len(s),)
    assert text.decode(vec, idx2char) == s
    assert text.decode(torch.from_numpy(vec), idx2char) == s


def test_unknown_characters_are_named():
    _, char2idx, _ = lab_vocab()
    with pytest.raises(ValueError, match="not in the vocabulary: '\\$', '%'"):
        text.vectorize_string("ab%c$", char2idx)


def test_decode_out_of_range():
    with pytest.raises(ValueError, match="out of range"):
        text.decode([0, 5], ["a", "b"])
