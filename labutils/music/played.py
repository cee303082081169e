"""A tune written as it is played: its repeats written out, its endings resolved, no repeat signs.

    write_as_played(tune)   # '|: A :|' -> 'A | A |]'; '|: A |1 B :|2 C |]' -> 'A | B | A | C |]'

The bars and their order are `labutils.music.form`'s reading of the tune (`read_bars`,
`play_order`, as abc2midi plays it), not a second parser. Each played bar is its written text
from its first sign to its bar line; a repeat sign ('|:', ':|', '::') closing it becomes '|',
or '|]' at the tune's end, and ending numbers are dropped. What stands between two written bars
goes with them: up to the line break with the bar before (so lines still end where they did),
the rest (a K: or M: line) with the bar after. The header stays as it is.

`played_copies(tunes, share)` writes a seeded share of a collection so: training text in which
a part comes back written out, where a model that copies what it wrote gains (labutils.corpus).
"""
from __future__ import annotations

import random
import re
from typing import List, Optional, Sequence, Tuple

from labutils.music.bars import BOTH, END, START, read_bars
from labutils.music.form import play_order

_SIGN_AT_END = re.compile(r"(?::*\[?\|+\]?:*|:{2,})$")
_ENDING_AT_START = re.compile(r"^\[\d+(?:[,-]\d+)*\s*")
_SIGNS = re.compile(r"(?::*\[?\|+\]?:*|:{2,})(?:\[?\d+(?:[,-]\d+)*)?|^\s*\[\d+(?:[,-]\d+)*")
_FIELD_LINE = re.compile(r"^[A-Za-z]:")
_NUMBER_AFTER_SIGN = re.compile(r"^\[?\d+(?:[,-]\d+)*")  # '|1', ':|[2': the ending a bar line opens


def _without_signs(text: str) -> str:
    """Text after a bar line with its bar lines and ending numbers taken out; field lines (K:, M:) kept."""
    text = _NUMBER_AFTER_SIGN.sub("", text)
    return "\n".join(line if _FIELD_LINE.match(line) else _SIGNS.sub("", line) for line in text.split("\n"))


def _gap_halves(gap: str) -> Tuple[str, str]:
    """(what stays with the bar before: up to and with the first line break, what goes with the bar after)."""
    cut = gap.find("\n") + 1 if "\n" in gap else len(gap)
    return gap[:cut], gap[cut:]


def write_as_played(tune: str) -> str:
    """The tune with its repeats written out and its endings resolved (see the module docstring).

    A tune without bars comes back unchanged, and so does the music of a tune without repeats."""
    bars = read_bars(tune)
    if not bars:
        return tune
    gaps = [_without_signs(tune[bar.span[1]:after.span[0]]) for bar, after in zip(bars, bars[1:])]
    gaps.append(_without_signs(tune[bars[-1].span[1]:]) + "\n")  # a line break after the last bar, taken off below
    halves = [_gap_halves(gap) for gap in gaps]
    order = play_order(bars)
    pieces: List[str] = [_without_signs(tune[:bars[0].span[0]])]
    for position, i in enumerate(order):
        bar = bars[i]
        text = _ENDING_AT_START.sub("", tune[bar.span[0]:bar.span[1]])
        if bar.line in (START, END, BOTH):
            last = position == len(order) - 1 and bar.line != START
            text = _SIGN_AT_END.sub("|]" if last else "|", text)
        lead = halves[i - 1][1] if i > 0 else ""
        if lead and not pieces[-1].endswith("\n"):
            lead = "\n" + lead  # it began a line where it was written (a K: line must)
        pieces += [piece for piece in (lead, text, halves[i][0]) if piece]
    played = "".join(pieces + [halves[-1][1]])
    return played[:-1] if played.endswith("\n") else played


def played_copies(songs: Sequence[str], share: float, seed: int = 0, alphabet: Optional[set] = None) -> List[str]:
    """`write_as_played` copies of a seeded draw of `share` of `songs` (in their order); a drawn tune
    without repeats makes no copy, nor does one whose copy has a character outside `alphabet`
    (a closing '|]' in a collection that never writes one)."""
    drawn = sorted(random.Random(seed).sample(range(len(songs)), round(share * len(songs))))
    copies = ((write_as_played(songs[i]), songs[i]) for i in drawn)
    return [copy for copy, song in copies if copy != song and (alphabet is None or set(copy) <= alphabet)]
