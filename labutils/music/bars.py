"""An ABC tune read into bars of notes: each note's pitch and exact length, each bar's closing bar line.

    bars = read_bars(tune)
    bars[0].notes     # ((pitch, length), ...): a MIDI number (a tuple for a chord, None for a rest), a Fraction
    bars[0].length    # Fraction of a whole note; bars[0].line: the bar line that closes it ('|', ':|', ...)
    bars[0].ending    # 1, 2, ... for the bars of a numbered ending, else None
    bars[0].span      # (start, end): where the bar stands in the tune's text, its closing bar line included

A small reader of its own, independent of `rhythm.RhythmState` (which adds up lengths for the
sampler and keeps no pitches); what it reads, it reads as abc2midi does. Notes with accidentals
(^ ^^ _ __ =, lasting to the bar's end for that letter in every octave, as abc2midi plays them)
and octave marks (' ,) under the key signature of the K: in force; lengths 2, /, //, 3/2 times
L: (default 1/16 below a 3/4 meter, else 1/8); rests z and x; chords [ceg] (the length of their
first note, times the length after ']'); tuplets (3 and (p:q:r; broken rhythm > >> < <<; inline
[K:], [M:], [L:] and field lines (a field line is read whole, as abc2midi reads it). Skipped:
grace notes {..}, chord symbols and annotations "..", decorations (~ . H-W h-w and !trill!),
slurs, ties, spaces, % comments, and the collection's "!" at a line's end. Bar lines | || |] [|
|: :| :: :|: keep their kind (PLAIN ... BOTH below), and endings [1 |1 :|2 [2 number the bars
after them until a bar line other than '|'. A blank line after the music ends the tune.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import List, Optional, Tuple

from labutils.music.transpose import (
    FIFTHS_OF_LETTER,
    FLAT_ORDER,
    LETTERS,
    MODE_FIFTHS,
    NATURAL_SEMITONES,
    SHARP_ORDER,
    TONIC_ALTERATION,
)

# Bar line kinds, from the written sign: '|:' opens a repeat, ':|' closes one, '::' does both.
PLAIN, DOUBLE, FINAL, START, END, BOTH = "|", "||", "|]", "|:", ":|", "::"
MODES = {"maj": "major", "ion": "major", "min": "minor", "aeo": "minor", "m": "minor", "mix": "mixolydian",
         "dor": "dorian", "phr": "phrygian", "lyd": "lydian", "loc": "locrian"}

_KEY = re.compile(r"\s*([A-G])([#b]?)\s*([A-Za-z]*)")
_METER = re.compile(r"\s*(\d+)\s*/\s*(\d+)")
_FIELD_LINE = re.compile(r"^[A-Za-z]:")
_TOKEN = re.compile(r"""
    (?P<quote>"[^"\n]*"?)
  | (?P<deco>![^!\s|]*!)
  | (?P<grace>\{[^}\n]*\}?)
  | (?P<field>\[[A-Za-z]:[^\]\n]*\]?)
  | (?P<bar>:*\[?\|+\]?:*|:{2,})(?P<after>\[?\d+(?:[,-]\d+)*)?
  | (?P<ending>\[\d+(?:[,-]\d+)*)
  | (?P<chord>\[(?P<inside>[^\]\n|]*)\](?P<chord_len>\d*/*\d*))
  | (?P<tuplet>\((?P<p>\d+)(?::(?P<q>\d*))?(?::(?P<r>\d*))?)
  | (?P<note>(?P<acc>\^\^|\^|__|_|=)?(?P<letter>[A-Ga-g])(?P<octave>[,']*)(?P<len>\d*/*\d*))
  | (?P<rest>[zx](?P<rest_len>\d*/*\d*))
  | (?P<broken>[<>]+)
  | (?P<other>.)
""", re.X)
_NOTE_IN_CHORD = re.compile(r"(\^\^|\^|__|_|=)?([A-Ga-g])([,']*)(\d*/*\d*)")
_ACCIDENTAL = {"^^": 2, "^": 1, "=": 0, "_": -1, "__": -2}


@dataclass(frozen=True)
class Key:
    """A key as K: writes it: tonic pitch class (0 = C), mode ('major', 'dorian', ...), sharps (+) or flats (-)."""

    tonic: int
    mode: str
    name: str  # 'D major', 'F# minor'
    fifths: int

    def signature(self) -> dict:
        """Alteration (+1, -1, 0) of each letter under this key's signature."""
        fifths = max(-7, min(7, self.fifths))
        changed = SHARP_ORDER[:fifths] if fifths > 0 else FLAT_ORDER[:-fifths]
        return {c: (1 if fifths > 0 else -1) if c in changed else 0 for c in LETTERS}


def read_key(value: str) -> Optional[Key]:
    """The key of a K: value ('D Major', 'Ador', 'F#m', 'Bb mix'); None when it names none ('none', 'HP')."""
    match = _KEY.match(value)
    if match is None:
        return None
    letter, accidental, mode = match.groups()
    mode_key = mode.lower() if mode.lower() == "m" else mode.lower()[:3] or "maj"
    if mode_key not in MODES:
        return None
    tonic = (NATURAL_SEMITONES[LETTERS.index(letter)] + TONIC_ALTERATION[accidental]) % 12
    fifths = FIFTHS_OF_LETTER[letter] + 7 * TONIC_ALTERATION[accidental] + MODE_FIFTHS[mode_key]
    return Key(tonic, MODES[mode_key], f"{letter}{accidental} {MODES[mode_key]}", fifths)


def read_meter(value: str) -> Optional[Fraction]:
    """A bar's length in whole notes from an M: value ('6/8' -> 3/4, 'C' and 'C|' -> 1); None for a free meter."""
    value = value.strip()
    if value.startswith("C"):
        return Fraction(1)
    match = _METER.match(value)
    if match and int(match.group(2)):
        return Fraction(int(match.group(1)), int(match.group(2)))
    return None


def read_length(text: str) -> Fraction:
    """A note's length in units of L:, as abc2midi reads it: '' 1, '2' 2, '/' 1/2, '//' 1/4, '3/2', '/4'."""
    number, _, rest = text.partition("/")
    length = Fraction(int(number) if number else 1)
    if not _:
        return length
    digits = rest.lstrip("/")
    slashes = 1 + len(rest) - len(digits)
    return length / int(digits) if digits and int(digits) else length / 2 ** slashes  # ('/0' reads as '/')


@dataclass
class Bar:
    """One written bar: its notes, the bar line that closes it, its numbered ending, meter and key."""

    notes: Tuple  # ((pitch, length), ...): MIDI number, a tuple of them for a chord, None for a rest
    line: str  # the closing bar line's kind (PLAIN, DOUBLE, FINAL, START, END, BOTH), '' at the tune's end
    ending: Optional[int]
    meter: Optional[Fraction]
    key: Optional[Key]
    opens_repeat: bool = False  # a '|:' or '::' stands before it
    span: Tuple[int, int] = (0, 0)  # its text: tune[start:end], from its first sign to its closing bar line

    @property
    def length(self) -> Fraction:
        """The bar's length in whole notes."""
        return sum((length for _, length in self.notes), Fraction(0))

    @property
    def last_pitch(self) -> Optional[int]:
        """The bar's last sounding pitch (a chord's first note), None when it has none."""
        for pitch, _ in reversed(self.notes):
            if pitch is not None:
                return pitch[0] if isinstance(pitch, tuple) else pitch
        return None


def bar_kind(sign: str) -> str:
    """The kind of a written bar line: ':|:' and '::' -> BOTH, ':||' -> END, '[|' -> DOUBLE, ..."""
    opens, closes = sign.endswith(":"), sign.startswith(":")
    if opens and closes:
        return BOTH
    if opens or closes:
        return START if opens else END
    core = sign.strip(":")
    return PLAIN if core == "|" else FINAL if core.endswith("]") else DOUBLE


class _Reader:
    """The reading state of one tune: the bar being filled, unit, meter, key, accidentals, tuplet."""

    def __init__(self):
        self.bars: List[Bar] = []
        self.notes: List[List] = []  # [pitch, length] of the bar being read
        self.meter: Optional[Fraction] = Fraction(1)
        self.compound = False  # 6/8, 9/8, 12/8: a tuplet of 5, 7 or 9 takes 3 beats' time
        self.unit: Optional[Fraction] = None
        self.key: Optional[Key] = None
        self.signature = {c: 0 for c in LETTERS}
        self.accidentals = {}  # letter -> alteration written in this bar (abc2midi: in every octave)
        self.ending: Optional[int] = None
        self.tuplet: Optional[List] = None  # [factor, notes left]
        self.broken: Optional[Fraction] = None  # factor of the next note after > or <
        self.in_body = False
        self.opens_repeat = False  # the next bar follows a '|:' or '::'
        self.start: Optional[int] = None  # text position of the bar's first sign

    def field(self, text: str) -> None:
        """A header or body field: K:, M: and L: count, the others are skipped."""
        name, value = text[0], text[2:]
        if name == "M":
            self.meter = read_meter(value)
            self.compound = re.match(r"\s*(6|9|12)/8", value) is not None
        elif name == "L":
            self.unit = read_meter(value) or self.unit
        elif name == "K":
            self.key = read_key(value)
            self.signature = self.key.signature() if self.key else {c: 0 for c in LETTERS}
            if self.unit is None:
                self.unit = Fraction(1, 16) if self.meter is not None and self.meter < Fraction(3, 4) else Fraction(1, 8)
            self.in_body = True

    def pitch(self, accidental: Optional[str], letter: str, octave: str) -> int:
        """The MIDI number of a written note (C = 60, c = 72) under the key and this bar's accidentals."""
        octave_number = (5 if letter.islower() else 4) + octave.count("'") - octave.count(",")
        upper = letter.upper()
        if accidental is not None:
            self.accidentals[upper] = _ACCIDENTAL[accidental]
        alteration = self.accidentals.get(upper, self.signature[upper])
        return 12 * (octave_number + 1) + NATURAL_SEMITONES[LETTERS.index(upper)] + alteration

    def add(self, pitch, length: Fraction) -> None:
        """A note, chord or rest of `length` units: apply L:, broken rhythm and the open tuplet."""
        length *= self.unit
        if self.broken is not None:
            length, self.broken = length * self.broken, None
        if self.tuplet is not None:
            length *= self.tuplet[0]
            self.tuplet[1] -= 1
            if self.tuplet[1] <= 0:
                self.tuplet = None
        self.notes.append([pitch, length])

    def broken_rhythm(self, sign: str) -> None:
        """'>' gives the last note 3/2 of its length and the next 1/2 ('>>' 7/4 and 1/4; '<' the other way)."""
        if not self.notes:
            return
        whole = 2 ** len(sign)
        longer, shorter = Fraction(2 * whole - 1, whole), Fraction(1, whole)
        first, second = (longer, shorter) if sign[0] == ">" else (shorter, longer)
        self.notes[-1][1] *= first
        self.broken = second

    def tuplet_start(self, p: int, q: str, r: str) -> None:
        """(p:q:r: the next r notes take q/p of their length (q by the ABC standard's table when omitted)."""
        if p < 2:
            return
        q_value = int(q) if q else 3 if p in (2, 4, 8) else 2 if p in (3, 6) else 3 if self.compound else 2
        self.tuplet = [Fraction(q_value, p), int(r) if r else p]

    def bar_line(self, kind: str, ending: Optional[int], end: int) -> None:
        """Close the bar being read with a bar line of `kind` ending at text position `end`; an empty bar
        merges its line into the last."""
        if self.notes:
            notes = tuple((p, n) for p, n in self.notes)
            span = (end if self.start is None else self.start, end)
            self.bars.append(Bar(notes, kind, self.ending, self.meter, self.key, self.opens_repeat, span))
            self.opens_repeat = False
            if kind != PLAIN:
                self.ending = None
        elif self.bars and kind != PLAIN:  # ':| |:' reads as '::', '| ||' as '||'
            last = self.bars[-1]
            opens = START in (kind, last.line) or BOTH in (kind, last.line)
            closes = END in (kind, last.line) or BOTH in (kind, last.line)
            last.line = BOTH if opens and closes else START if opens else END if closes else kind
            self.ending = None
        self.opens_repeat = self.opens_repeat or kind in (START, BOTH)
        self.notes, self.accidentals, self.start = [], {}, None
        if ending:  # '|0' is no ending
            self.ending = ending

    def finish(self, end: int) -> List[Bar]:
        """The bars read, the last one closed by '' when no bar line ended it."""
        if self.notes:
            self.bar_line("", None, end)
        return self.bars


def _ending_number(text: str) -> int:
    return int(re.match(r"\[?(\d+)", text).group(1))


def _read_line(reader: _Reader, line: str, offset: int) -> None:
    """One line of music, which starts at text position `offset`."""
    for match in _TOKEN.finditer(line):
        group = match.group
        if reader.start is None and not group("other") and not group("bar"):
            reader.start = offset + match.start()
        if group("bar"):
            after = group("after")
            reader.bar_line(bar_kind(group("bar")), _ending_number(after) if after else None,
                            offset + match.end("bar"))
        elif group("ending"):
            reader.ending = _ending_number(group("ending")) or reader.ending
        elif group("field"):
            reader.field(group("field")[1:].rstrip("]"))
        elif group("chord"):
            notes = _NOTE_IN_CHORD.findall(group("inside"))
            if notes:
                pitches = tuple(reader.pitch(a or None, letter, octave) for a, letter, octave, _ in notes)
                reader.add(pitches, read_length(notes[0][3]) * read_length(group("chord_len")))
        elif group("tuplet"):
            reader.tuplet_start(int(group("p")), group("q"), group("r"))
        elif group("note"):
            reader.add(reader.pitch(group("acc"), group("letter"), group("octave")), read_length(group("len")))
        elif group("rest"):
            reader.add(None, read_length(group("rest_len")))
        elif group("broken"):
            reader.broken_rhythm(group("broken"))


def read_bars(tune: str) -> List[Bar]:
    """The written bars of one ABC tune, in order (see the module docstring); [] when it has no K: line."""
    reader, offset = _Reader(), 0
    for line in tune.split("\n"):
        if (reader.bars or reader.notes) and not line.strip():
            break  # a blank line after the music ends the tune
        music = line.split("%", 1)[0]
        if _FIELD_LINE.match(music) and not (reader.in_body and music[2:3] == "|"):  # 'D:|' is a note and ':|'
            reader.field(music.strip())
        elif reader.in_body and music.strip():
            _read_line(reader, music, offset)
        offset += len(line) + 1
    return reader.finish(min(offset, len(tune))) if reader.in_body else []


def tune_key(tune: str) -> Optional[Key]:
    """The key of the tune's first K: line, None when it has none or names no key."""
    for line in tune.split("\n"):
        if line.startswith("K:"):
            return read_key(line[2:])
    return None


def header_field(tune: str, name: str) -> Optional[str]:
    """The value of the tune's first `name`: header line ('R' -> 'reel'), stripped; None when absent."""
    for line in tune.split("\n"):
        if line.startswith(name + ":"):
            return line[len(name) + 1:].strip()
        if line.startswith("K:"):
            break
    return None
