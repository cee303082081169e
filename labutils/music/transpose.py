"""More training text from the same tunes: transpose an ABC tune into another key.

A tune moved up or down a tone is the same tune to a listener, and new text to a character
model: the training set grows without new data. `transpose_tune` moves every note by the
same number of semitones and rewrites the key line, so the tune keeps its mode, its rhythm
and its accidentals' meaning (checked against music21's reading in tests/test_transpose.py).

How: the key line's tonic moves to the letter `steps` away, spelled with the fewest sharps
or flats; each note letter moves the same number of steps (the new key signature then
gives the right pitch), and each written accidental (^ = _) keeps its distance from the key
signature, so accidentals that last to the end of the bar keep working.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence

LETTERS = "CDEFGAB"
NATURAL_SEMITONES = (0, 2, 4, 5, 7, 9, 11)  # C D E F G A B
FIFTHS_OF_LETTER = {"F": -1, "C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5}
SHARP_ORDER, FLAT_ORDER = "FCGDAEB", "BEADGCF"
# Sharps (+) or flats (-) a mode adds to the major key of the same tonic.
MODE_FIFTHS = {"maj": 0, "ion": 0, "mix": -1, "dor": -2, "min": -3, "aeo": -3, "m": -3,
               "phr": -4, "loc": -5, "lyd": 1}
ACCIDENTALS = {"^^": 2, "^": 1, "=": 0, "_": -1, "__": -2}
ACCIDENTAL_TEXT = {value: text for text, value in ACCIDENTALS.items()}
TONIC_ALTERATION = {"": 0, "#": 1, "b": -1}  # how a key line spells a sharp or flat tonic (K:F#m, K:Bb)
TONIC_TEXT = {value: text for text, value in TONIC_ALTERATION.items()}

_KEY = re.compile(r"^(\s*)([A-G])([#b]?)(\s*)([A-Za-z]*)(.*)$", re.S)
_NOTE = re.compile(r"(\^\^|\^|__|_|=)?([A-Ga-g])([,']*)")
_HEADER = re.compile(r"^[A-Za-z]:")


class TransposeError(ValueError):
    """A tune that cannot be transposed (no key line, an unknown mode, an accidental out of range)."""


def _mode_fifths(mode: str) -> int:
    """What a mode adds to the signature of the major key on its tonic ("Dorian" -> -2)."""
    mode_key = (mode.lower()[:3] if len(mode) > 1 else mode.lower()) or "maj"
    if mode_key not in MODE_FIFTHS:
        raise TransposeError(f"unknown mode {mode!r} in the key line")
    return MODE_FIFTHS[mode_key]


def _key_fifths(tonic: str, accidental: str, mode: str) -> int:
    """Sharps (+) or flats (-) of a key signature, e.g. ("D", "", "Mixolydian") -> 1."""
    return FIFTHS_OF_LETTER[tonic] + 7 * TONIC_ALTERATION[accidental] + _mode_fifths(mode)


def _signature(fifths: int) -> Dict[str, int]:
    """Alteration (+1 sharp, -1 flat, 0) of each letter under a key signature of `fifths`."""
    if not -7 <= fifths <= 7:
        raise TransposeError(f"a key signature of {abs(fifths)} {'sharps' if fifths > 0 else 'flats'}")
    changed = SHARP_ORDER[:fifths] if fifths > 0 else FLAT_ORDER[:-fifths]
    return {letter: (1 if fifths > 0 else -1) if letter in changed else 0 for letter in LETTERS}


def _move_tonic(tonic: str, accidental: str, mode: str, semitones: int):
    """(letter, accidental, letter steps) of the tonic `semitones` away whose key has the fewest sharps/flats."""
    pitch = NATURAL_SEMITONES[LETTERS.index(tonic)] + TONIC_ALTERATION[accidental]
    options = []
    for steps in range(-7, 8):
        if abs(steps - semitones * 7 / 12) > 1.2:  # a second is one letter, a third two, ...
            continue
        letter = LETTERS[(LETTERS.index(tonic) + steps) % 7]
        alteration = (pitch + semitones - NATURAL_SEMITONES[LETTERS.index(letter)] + 6) % 12 - 6
        if alteration in (-1, 0, 1):
            fifths = FIFTHS_OF_LETTER[letter] + 7 * alteration + _mode_fifths(mode)
            options.append((abs(fifths), letter, TONIC_TEXT[alteration], steps))
    if not options:
        raise TransposeError(f"no spelling for a tonic {semitones} semitones from {tonic}{accidental}")
    _, letter, new_accidental, steps = min(options)
    return letter, new_accidental, steps


def _move_note(match: re.Match, steps: int, old: Dict[str, int], new: Dict[str, int]) -> str:
    """One note, moved `steps` letters; a written accidental keeps its distance from the key."""
    accidental, letter, octave_marks = match.groups()
    octave = (5 if letter.islower() else 4) + octave_marks.count("'") - octave_marks.count(",")
    index = octave * 7 + LETTERS.index(letter.upper()) + steps
    octave, new_letter = divmod(index, 7)
    new_letter = LETTERS[new_letter]
    text = ""
    if accidental is not None:
        alteration = new[new_letter] + ACCIDENTALS[accidental] - old[letter.upper()]
        if alteration not in ACCIDENTAL_TEXT:
            raise TransposeError(f"note {match.group(0)!r} would need a triple sharp or flat")
        text = ACCIDENTAL_TEXT[alteration]
    if octave >= 5:
        return text + new_letter.lower() + "'" * (octave - 5)
    return text + new_letter + "," * (4 - octave)


def _move_body(line: str, steps: int, old: Dict[str, int], new: Dict[str, int]) -> str:
    """Move the notes of a music line; quoted text ("Verse") stays as it is."""
    parts = line.split('"')
    for i in range(0, len(parts), 2):  # even parts are outside quotes
        parts[i] = _NOTE.sub(lambda m: _move_note(m, steps, old, new), parts[i])
    return '"'.join(parts)


def transpose_tune(tune: str, semitones: int) -> str:
    """The tune moved by `semitones` (e.g. 2: D major -> E major, -2: A dorian -> G dorian).

    Every K: line (the first and any key change) gets the new tonic, spelled with the fewest
    sharps or flats; other header lines and % comments are kept. TransposeError if the tune
    has no K: line, a mode it does not know, or a note that would need a triple sharp or flat.
    Not handled (the lab's collection has none): inline fields such as [K:G] and chord symbols
    or decorations with letters ("Am", !trill!), which would be moved like notes.
    """
    if semitones == 0:
        return tune
    lines = tune.split("\n")
    if not any(line.startswith("K:") for line in lines):
        raise TransposeError("the tune has no K: (key) line")
    old = new = None
    steps = 0
    out: List[str] = []
    for line in lines:
        if line.startswith("K:"):
            match = _KEY.match(line[2:])
            if match is None:
                raise TransposeError(f"cannot read the key line {line!r}")
            space, tonic, accidental, gap, mode, rest = match.groups()
            letter, new_accidental, steps = _move_tonic(tonic, accidental, mode, semitones)
            old = _signature(_key_fifths(tonic, accidental, mode))
            new = _signature(_key_fifths(letter, new_accidental, mode))
            out.append(f"K:{space}{letter}{new_accidental}{gap}{mode}{rest}")
        elif old is None or _HEADER.match(line) or line.startswith("%"):
            out.append(line)
        else:
            out.append(_move_body(line, steps, old, new))
    return "\n".join(out)


def transposed_copies(songs: Sequence[str], semitones: Sequence[int] = (-2, 2),
                      alphabet: Optional[set] = None) -> List[str]:
    """Each tune moved by each shift in `semitones`; tunes that cannot move (or would need a
    character outside `alphabet`, e.g. the model's vocabulary) are left out."""
    copies = []
    for song in songs:
        for shift in semitones:
            try:
                moved = transpose_tune(song, shift)
            except TransposeError:
                continue
            if alphabet is None or set(moved) <= alphabet:
                copies.append(moved)
    return copies
