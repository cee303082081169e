"""Vocabulary: characters <-> integer indices, and turning text into arrays and back."""
from __future__ import annotations

import functools
from typing import Dict, Iterable, List, Sequence, Tuple

import numpy as np


def build_vocab(text: str) -> Tuple[List[str], Dict[str, int], np.ndarray]:
    """Return (vocab, char2idx, idx2char) for the sorted unique characters of `text`."""
    if not text:
        raise ValueError("Cannot build a vocabulary from empty text.")
    vocab = sorted(set(text))
    char2idx = {char: idx for idx, char in enumerate(vocab)}
    idx2char = np.array(vocab)
    return vocab, char2idx, idx2char


@functools.lru_cache(maxsize=1)
def _lab_vocab() -> Tuple[str, ...]:
    from labutils.data import join_songs, load_training_data

    return tuple(build_vocab(join_songs(load_training_data()))[0])


def lab_vocab() -> Tuple[List[str], Dict[str, int], np.ndarray]:
    """(vocab, char2idx, idx2char) of the whole tune collection joined with "\\n\\n" (83 characters)."""
    vocab = list(_lab_vocab())
    return vocab, {c: i for i, c in enumerate(vocab)}, np.array(vocab)


def _describe(chars: Iterable[str]) -> str:
    return ", ".join(repr(c) for c in sorted(set(chars)))


def vectorize_string(string: str, char2idx: Dict[str, int]) -> np.ndarray:
    """Map each character of `string` to its index: a 1-D int64 array of len(string)."""
    unknown = set(string) - char2idx.keys()
    if unknown:
        raise ValueError(
            f"The text has characters not in the vocabulary: {_describe(unknown)}. "
            f"Known characters: {''.join(sorted(char2idx))!r}"
        )
    return np.fromiter((char2idx[c] for c in string), dtype=np.int64, count=len(string))


def decode(indices: Sequence[int], idx2char: Sequence[str]) -> str:
    """Turn a sequence of indices (list, array or tensor) back into a string."""
    if hasattr(indices, "tolist"):
        indices = indices.tolist()
    size = len(idx2char)
    bad = [i for i in indices if not 0 <= int(i) < size]
    if bad:
        raise ValueError(f"Indices out of range 0..{size - 1}: {bad[:10]}")
    return "".join(idx2char[int(i)] for i in indices)


def prepare_corpus(songs: Sequence[str], val_fraction: float = 0.1, seed: int = 0,
                   transpose: Sequence[int] = (), extra_train_songs: Sequence[str] = ()) -> Dict:
    """Vocabulary of all tunes joined, the seeded split by tune, and both halves vectorized.

    Returns a dict: songs, vocab, char2idx, idx2char, train_songs, val_songs, train, val
    (the last two int64 arrays). `make run` and the benchmarks train on exactly this.
    `transpose` (semitones, e.g. (-2, 2)) adds to `train` each training tune moved into those
    keys (see `with_transposed_copies`); the held-out half stays as written.
    `extra_train_songs` (e.g. `labutils.data.load_extra_tunes(...).tunes`) are more training
    tunes, kept apart as `extra_songs` and `extra` (vectorized): training reads them as a share
    of each batch (params["extra_share"], labutils.trainer.training_batch), so the lab's own
    tunes keep their weight. The vocabulary and the held-out tunes stay those of `songs`.
    """
    from labutils.data import join_songs, train_val_split

    vocab, char2idx, idx2char = build_vocab(join_songs(songs))
    train_songs, val_songs = train_val_split(songs, val_fraction, seed=seed)
    extra_songs = list(extra_train_songs)
    corpus = {"songs": list(songs), "vocab": vocab, "char2idx": char2idx, "idx2char": idx2char,
              "train_songs": train_songs, "val_songs": val_songs, "extra_tunes": len(extra_songs),
              "extra_songs": extra_songs,
              "extra": vectorize_string(join_songs(extra_songs), char2idx) if extra_songs else None,
              "train": vectorize_string(join_songs(train_songs), char2idx),
              "val": vectorize_string(join_songs(val_songs), char2idx)}
    return with_transposed_copies(corpus, transpose) if transpose else corpus


def with_transposed_copies(corpus: Dict, transpose: Sequence[int]) -> Dict:
    """A prepared corpus whose `train` also holds each training tune moved by each of `transpose`
    semitones (labutils.music.transpose; copies needing a character outside the vocabulary are left out),
    and `train_as_written` the tunes alone."""
    from labutils.data import join_songs
    from labutils.music.transpose import transposed_copies

    copies = transposed_copies(corpus["train_songs"], transpose, alphabet=set(corpus["vocab"]))
    train = vectorize_string(join_songs(list(corpus["train_songs"]) + copies), corpus["char2idx"])
    return {**corpus, "train": train, "train_as_written": corpus["train"], "transposed_tunes": len(copies)}
