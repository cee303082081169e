"""The keys tunes are played in: how often a collection writes each K: key, and copies of tunes moved
into the keys the tradition plays for their mode.

A tune moved a tone up or down (`transpose.transposed_copies`) is new text for a model, but the
keys it lands in are ones the tradition seldom plays (D major a tone up is E major), and a model
trained on such copies writes them as often as the real keys. `tradition_copies` moves each tune
only into keys its collection already writes in the tune's mode, drawn as often as the collection
writes them, so the training text keeps the collection's mix of keys.
"""
from __future__ import annotations

import random
from collections import Counter
from typing import Iterable, List, Optional, Sequence

from labutils.music.bars import tune_key
from labutils.music.transpose import TransposeError, transpose_tune


def key_counts(songs: Iterable[str]) -> Counter:
    """How many of `songs` have each K: key ('G major', 'A dorian', ...); tunes without a key are not counted."""
    keys = (tune_key(song) for song in songs)
    return Counter(key.name for key in keys if key is not None)


def shift_between(tonic: int, target: int) -> int:
    """Semitones (-6 to 5) that move a tonic pitch class (0 = C) to `target` the shorter way."""
    return (target - tonic + 6) % 12 - 6


def tradition_copies(songs: Sequence[str], reference: Optional[Sequence[str]] = None, draws: int = 3,
                     floor: float = 0.01, seed: int = 0, alphabet: Optional[set] = None) -> List[str]:
    """Copies of `songs` in keys the tradition plays: for each tune, `draws` keys of the tune's mode
    drawn as often as `reference` (default: `songs`) writes them, leaving out keys under `floor` of
    its tunes. A draw of the tune's own key, or of a key already drawn for it, makes no copy; so do
    tunes without a key, copies that cannot be written and copies with a character outside `alphabet`.
    Seeded: the same arguments give the same copies."""
    counts = key_counts(songs if reference is None else reference)
    total = sum(counts.values())
    common = {name: count for name, count in counts.items() if total and count / total >= floor}
    rng, copies = random.Random(seed), []
    for song in songs:
        key = tune_key(song)
        if key is None:
            continue
        keys = [name for name in common if name.endswith(" " + key.mode)]
        drawn = {key.name}
        for name in rng.choices(keys, [common[k] for k in keys], k=draws) if keys else ():
            if name in drawn:
                continue
            drawn.add(name)
            try:
                moved = transpose_tune(song, shift_between(key.tonic, tune_key(f"K:{name}").tonic))
            except TransposeError:
                continue
            if alphabet is None or set(moved) <= alphabet:
                copies.append(moved)
    return copies
