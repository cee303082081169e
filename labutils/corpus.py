"""The text a model trains on: the lab's tunes joined and vectorized, split by tune, with
transposed copies, copies written as played and extra tunes when asked.

This is the step above the leaves: it reads tunes (labutils.data), turns them into integers
(labutils.text), moves them into other keys (labutils.music.transpose), writes their repeats out
(labutils.music.played) and adds tunes from music21's collections (labutils.extra_tunes).
"""
from __future__ import annotations

import functools
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from labutils.data import join_songs, load_training_data, train_val_split
from labutils.extra_tunes import load_extra_tunes
from labutils.music.keys import tradition_copies
from labutils.music.played import played_copies
from labutils.music.transpose import transposed_copies
from labutils.text import build_vocab, vectorize_string


@functools.lru_cache(maxsize=1)
def _lab_vocab() -> Tuple[str, ...]:
    """The lab's characters, sorted, read once per process."""
    return tuple(build_vocab(join_songs(load_training_data()))[0])


def lab_vocab() -> Tuple[List[str], Dict[str, int], np.ndarray]:
    """(vocab, char2idx, idx2char) of the whole tune collection joined with "\\n\\n"."""
    vocab = list(_lab_vocab())
    return vocab, {c: i for i, c in enumerate(vocab)}, np.array(vocab)


Transpose = Union[str, Sequence[int]]  # semitones, e.g. (-2, 2), or "tradition"


def prepare_corpus(songs: Sequence[str], val_fraction: float = 0.1, seed: int = 0,
                   transpose: Transpose = (), extra_train_songs: Sequence[str] = (),
                   played_share: float = 0.0) -> Dict:
    """Vocabulary of all tunes joined, the seeded split by tune, and both halves vectorized.

    Returns a dict: songs, vocab, char2idx, idx2char, train_songs, val_songs, train, val
    (the last two int64 arrays). `make run` and the benchmarks train on exactly this.
    `transpose` (semitones, e.g. (-2, 2), or "tradition") adds to `train` copies of the training
    tunes in other keys (see `with_transposed_copies`); the held-out half stays as written.
    `extra_train_songs` (e.g. `labutils.extra_tunes.load_extra_tunes(...).tunes`) are more training
    tunes, kept apart as `extra_songs` and `extra` (vectorized): training reads them as a share
    of each batch (params["extra_share"], labutils.schedule.training_batch), so the lab's own
    tunes keep their weight. `played_share` adds copies of that share of the training tunes
    written as played (see `with_played_copies`). The vocabulary and the held-out tunes stay
    those of `songs`, as written.
    """
    vocab, char2idx, idx2char = build_vocab(join_songs(songs))
    train_songs, val_songs = train_val_split(songs, val_fraction, seed=seed)
    extra_songs = list(extra_train_songs)
    corpus = {"songs": list(songs), "vocab": vocab, "char2idx": char2idx, "idx2char": idx2char,
              "train_songs": train_songs, "val_songs": val_songs, "extra_tunes": len(extra_songs),
              "extra_songs": extra_songs,
              "extra": vectorize_string(join_songs(extra_songs), char2idx) if extra_songs else None,
              "train": vectorize_string(join_songs(train_songs), char2idx),
              "val": vectorize_string(join_songs(val_songs), char2idx)}
    if played_share:
        corpus = with_played_copies(corpus, played_share, seed=seed)
    return with_transposed_copies(corpus, transpose) if transpose else corpus


def with_played_copies(corpus: Dict, share: float, seed: int = 0) -> Dict:
    """A prepared corpus whose `train` also holds `share` of the training tunes written as played
    (repeats written out, endings resolved: labutils.music.played), kept as `played_songs`; tunes
    without repeats make no copy, nor do copies needing a character outside the vocabulary. Copies
    are made before any transposed ones, which move only the tunes as written."""
    copies = played_copies(corpus["train_songs"], share, seed=seed, alphabet=set(corpus["vocab"]))
    train = vectorize_string(join_songs(list(corpus["train_songs"]) + copies), corpus["char2idx"])
    return {**corpus, "train": train, "played_songs": copies}


def with_transposed_copies(corpus: Dict, transpose: Transpose) -> Dict:
    """A prepared corpus whose `train` also holds copies of the training tunes in other keys, and
    `train_as_written` the text before them (the tunes, and their copies written as played if any).
    `transpose` is semitones (each tune moved by each shift, labutils.music.transpose) or
    "tradition" (each tune moved into keys the training tunes play in its mode, as often as they
    do: labutils.music.keys). Copies needing a character outside the vocabulary are left out."""
    alphabet = set(corpus["vocab"])
    if isinstance(transpose, str) and transpose != "tradition":
        raise ValueError(f"transpose must be semitones (e.g. [-2, 2]) or 'tradition', got {transpose!r}")
    if transpose == "tradition":
        copies = tradition_copies(corpus["train_songs"], alphabet=alphabet)
    else:
        copies = transposed_copies(corpus["train_songs"], transpose, alphabet=alphabet)
    tunes = list(corpus["train_songs"]) + corpus.get("played_songs", []) + copies
    train = vectorize_string(join_songs(tunes), corpus["char2idx"])
    return {**corpus, "train": train, "train_as_written": corpus["train"], "transposed_tunes": len(copies)}


def training_corpus(params: Dict, path: Optional[str] = None) -> Dict:
    """The corpus a run with these settings trains on: the tunes at `path` (default: the lab's),
    split 90/10 with seed 0, with params["transpose"] copies, params["played_share"] of the tunes
    written as played and params["extra_tunes"] (whose summary it prints)."""
    songs = load_training_data(path)
    extra = load_extra_tunes(params["extra_tunes"], lab_songs=songs) if params.get("extra_tunes") else None
    if extra is not None:
        print(extra.summary())
    return prepare_corpus(songs, 0.1, seed=0, transpose=params.get("transpose", ()),
                          extra_train_songs=extra.tunes if extra is not None else (),
                          played_share=params.get("played_share", 0.0))
