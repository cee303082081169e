"""The lookback input: for each character, the character at the same place in the bar some bars back.

A folk tune restates its phrases: bar 5 of an 8-bar part often plays bar 1 again. A character
LSTM has to hold a bar in its state for a whole phrase to copy it, and in the lab's training
budget it does not learn to (benchmarks/tuning/README.md, rounds 5-7). An LSTMModel built with
`lookback_bars=N` reads, beside each character, the character that came next at the same place
in the bar N bars back (`BarReader`); its weights decide when to use it. The sampler copies
nothing: the model is trained on the same input and draws every character itself.

What the reader counts: a tune's bars start after its K: line; a bar's notes are what follows
a `|` once the bar line's own characters (`:`, `]`, `[`, ending numbers, `!`, line breaks and
spaces) are past; a blank line ends the tune. The input is one of the vocabulary's indices,
`none_id` (no bar that far back yet, or in the header) or `end_id` (the bar back there ended
here).
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

SEPARATORS = ":][!\n0123456789 "  # after a `|`, these still belong to the bar line


class BarReader:
    """Reads one text a character index at a time; `value()` is its lookback input after the last one."""

    __slots__ = ("codes", "bars_back", "header", "line_start", "bars", "current", "in_bar_line", "previous")

    def __init__(self, codes: _Codes, bars_back: int):
        self.codes, self.bars_back = codes, bars_back
        self.reset()

    def reset(self) -> None:
        """Back to before a tune: in a header, no bars read."""
        self.header, self.line_start, self.in_bar_line = True, "", True
        self.bars: List[tuple] = []
        self.current: List[int] = []
        self.previous = self.codes.newline

    def copy(self) -> BarReader:
        other = BarReader.__new__(BarReader)
        other.codes, other.bars_back, other.header, other.line_start = self.codes, self.bars_back, self.header, \
            self.line_start
        other.bars, other.current, other.in_bar_line, other.previous = list(self.bars), list(self.current), \
            self.in_bar_line, self.previous
        return other

    def feed(self, index: int) -> None:
        codes = self.codes
        if index == codes.newline and self.previous == codes.newline:  # a blank line: the tune is over
            self.reset()
        elif self.header:
            if index == codes.newline:
                self.header = self.line_start != "K:"
                self.line_start = ""
            elif len(self.line_start) < 2:
                self.line_start += codes.chars[index]
        elif index == codes.bar:
            if self.current:
                self.bars.append(tuple(self.current))
            self.current, self.in_bar_line = [], True
        elif not (self.in_bar_line and index in codes.separators):
            self.in_bar_line = False
            self.current.append(index)
        self.previous = index

    def value(self) -> int:
        codes = self.codes
        if self.header or len(self.bars) < self.bars_back:
            return codes.none_id
        back = self.bars[len(self.bars) - self.bars_back]
        place = len(self.current)
        return back[place] if place < len(back) else codes.end_id


class _Codes:
    """The character indices the reader needs, for one vocabulary."""

    def __init__(self, vocab: Sequence[str]):
        index = {c: i for i, c in enumerate(vocab)}
        missing = [c for c in "|\n" if c not in index]
        if missing:
            raise ValueError(f"a lookback model needs '|' and the line break in its vocabulary; missing {missing!r}")
        self.chars = list(vocab)
        self.bar, self.newline = index["|"], index["\n"]
        self.separators = frozenset(index[c] for c in SEPARATORS if c in index)
        self.none_id, self.end_id = len(vocab), len(vocab) + 1


class BarReaders:
    """One BarReader per batch row: what a lookback model carries in its state beside (h, c)."""

    def __init__(self, vocab: Sequence[str], bars_back: int, rows: int, readers: Optional[List[BarReader]] = None):
        self.vocab, self.bars_back = vocab, bars_back
        self._codes = readers[0].codes if readers else _Codes(vocab)
        self.readers = readers if readers is not None else [BarReader(self._codes, bars_back) for _ in range(rows)]

    def __len__(self) -> int:
        return len(self.readers)

    def clone(self) -> BarReaders:
        return BarReaders(self.vocab, self.bars_back, len(self), [r.copy() for r in self.readers])

    def read(self, x) -> np.ndarray:
        """Feed each row its characters x (rows, seq) in place; the lookback input after each, (rows, seq)."""
        x = np.asarray(x)
        if x.shape[0] != len(self.readers):
            raise ValueError(f"the state holds {len(self.readers)} rows of lookback readers, the input {x.shape[0]}")
        out = np.empty(x.shape, dtype=np.int64)
        for r, reader in enumerate(self.readers):
            for t, index in enumerate(x[r].tolist()):
                reader.feed(index)
                out[r, t] = reader.value()
        return out

    def copy_rows(self, source: BarReaders, rows: Sequence[int]) -> None:
        """These rows take copies of `source`'s readers."""
        for r in rows:
            self.readers[r] = source.readers[r].copy()

    def reset_rows(self, rows: Sequence[int]) -> None:
        """These rows start afresh, before a tune."""
        for r in rows:
            self.readers[r].reset()


def lookback_ids(ids, vocab: Sequence[str], bars_back: int) -> np.ndarray:
    """The lookback input for a whole text of character indices (1-D), read from its start: what
    a lookback model trains on (the same values its state's readers give when it reads the text)."""
    return BarReaders(vocab, bars_back, 1).read(np.asarray(ids).reshape(1, -1))[0]
