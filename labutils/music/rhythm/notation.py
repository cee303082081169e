"""ABC notation as abc2midi reads it: its characters, meters, keys, chord names and note lengths.

Lengths inside the rhythm package are whole numbers of ticks (TICKS in a whole note; a Fraction
of ticks only for a length no tick count holds): integer sums are many times faster than
Fraction ones, and just as exact. `whole_notes` turns ticks back into Fractions of a whole note.
"""
from __future__ import annotations

import re
from fractions import Fraction
from typing import Dict, Optional, Tuple

NOTE_LETTERS = set("ABCDEFGabcdefg")
REST_LETTERS = set("zx")
ACCIDENTALS = set("^_=")
ABC2MIDI_DECORATIONS = set(".MLRH~Tuv'OPS")  # abc2midi reads these as a note's decorations: a note must follow
IN_A_CHORD = NOTE_LETTERS | ACCIDENTALS | set("0123456789/',]- ")  # what may stand inside [...]
FIELD_LETTERS = set("ABCDEFGHIKLMNOPQRSTUVdwsWXZ")  # abc2midi reads "<letter>:" at a line start as a field
_CHORD_NAMES = set("m 7 m7 m7b5 maj7 M7 6 m6 aug + aug7 dim dim7 9 m9 maj9 M9 11 dim9 sus sus4 sus9 sus2 "
                   "7sus2 7sus4 7sus9 5".split()) | {""}  # abc2midi's own chord names
_CHORD_SYMBOL = re.compile(r"[A-Ga-g][#b=]{0,2}([^ /()]*)")
_NOTE_LENGTH = re.compile(r"(\d*)(?:/(\d+)|(/+))?")  # abc2midi's readlen: 2, /, //, 3/2 (not 2/2/)
_MODES = ("major", "minor", "mixolydian", "dorian", "phrygian", "lydian", "locrian", "ionian", "aeolian")
_KEY = re.compile(r"\s*([A-G][#b]?)\s*([A-Za-z]*)\s*$")
_FRACTION = re.compile(r"^\s*(\d+)\s*/\s*(\d+)")
_COMPOUND_METER = re.compile(r"\s*(6|9|12)/8")

TICKS = 2 ** 16 * 3 ** 4 * 5 ** 2 * 7  # ticks in a whole note
EIGHTH = TICKS // 8  # the unit note length before a header sets one
_LENGTHS: Dict[Tuple[str, object], object] = {}  # (length text, unit in ticks) -> ticks


def meter_length(value: str) -> Optional[Fraction]:
    """Bar length (whole notes) of an M: value: '6/8' -> 3/4, 'C' -> 1, 'C|' -> 1; None for 'none'."""
    value = value.strip()
    if value.startswith("C"):  # common time, C| cut time: both a whole note
        return Fraction(1)
    match = _FRACTION.match(value)
    if match and int(match.group(2)) > 0:
        return Fraction(int(match.group(1)), int(match.group(2)))
    return None  # M:none (free meter) or unreadable: bars are not checked


def default_unit(bar_length: Optional[Fraction]) -> Fraction:
    """The ABC standard's default L: 1/16 when the meter is below 3/4, else 1/8."""
    return Fraction(1, 16) if bar_length is not None and bar_length < Fraction(3, 4) else Fraction(1, 8)


def key_value_ok(value: str, complete: bool = True) -> bool:
    """Is `value` (what follows "K:") a key abc2midi reads: 'G', 'F#m', 'E Minor', 'Bb mix'? With
    complete=False: could the line still become one (more characters are coming)?"""
    if not value.strip():
        return not complete
    match = _KEY.match(value)
    if match is None:
        return False
    mode = match.group(2).lower()
    if not mode or mode == "m" or (len(mode) >= 3 and any(name.startswith(mode[:3]) for name in _MODES)):
        return True
    return not complete and not value.endswith(" ") and any(name.startswith(mode) for name in _MODES)


def chord_symbol_ok(text: str) -> bool:
    """Is the quoted text "Am" a chord abc2midi knows, or an annotation ("^text") it skips?"""
    text = text[1:] if text.startswith("(") else text
    match = _CHORD_SYMBOL.match(text)
    return not match or match.group(1) in _CHORD_NAMES


def tuplet_q(p: int, meter_text: str) -> int:
    """The q of a tuplet written without one: p notes in the time of q (ABC's defaults)."""
    if p in (2, 4, 8):
        return 3
    if p in (3, 6):
        return 2
    return 3 if _COMPOUND_METER.match(meter_text or "") else 2


def ticks(length: Optional[Fraction]):
    """A length in whole notes -> ticks (int when exact, else a Fraction of ticks); None stays None."""
    if length is None:
        return None
    value = Fraction(length) * TICKS
    return value.numerator if value.denominator == 1 else value


def whole_notes(length_in_ticks) -> Optional[Fraction]:
    """Ticks -> a Fraction of a whole note; None stays None."""
    return None if length_in_ticks is None else Fraction(length_in_ticks) / TICKS


def scale(length_in_ticks, numerator: int, denominator: int):
    """length_in_ticks * numerator / denominator, an int whenever the result is one."""
    value = length_in_ticks * numerator
    if isinstance(value, int):
        return value // denominator if value % denominator == 0 else Fraction(value, denominator)
    value = value / denominator
    return value.numerator if value.denominator == 1 else value


def note_ticks(text: str, unit):
    """Ticks of a note whose length is written `text` ('', '2', '/', '//', '3/2') with the unit note
    length `unit` (ticks, None for the default eighth), as abc2midi reads it; None for a length it
    cannot read (a stray '/', a denominator not a power of 2)."""
    key = (text, unit)
    if key in _LENGTHS:
        return _LENGTHS[key]
    match = _NOTE_LENGTH.fullmatch(text)
    length = None
    if match is not None:
        denominator = int(match.group(2)) if match.group(2) else 2 ** len(match.group(3) or "")
        if denominator > 0 and not denominator & (denominator - 1):  # a power of 2 has one bit set
            numerator = int(match.group(1) or 0) or 1  # abc2midi reads '0' as 1
            length = ticks(Fraction(numerator, denominator) * whole_notes(unit or EIGHTH))
    if len(_LENGTHS) > 10_000:
        _LENGTHS.clear()
    _LENGTHS[key] = length
    return length
