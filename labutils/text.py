"""Vocabulary: characters <-> integer indices, and turning text into arrays and back."""
from __future__ import annotations

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
