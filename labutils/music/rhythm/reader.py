"""AbcReader: a tune read one character at a time, as abc2midi reads it (RhythmState's machine).

The state reads the header (M:, L:, the default L: from the meter), then the music: notes with
accidentals, octave marks and lengths (2, /, //, 3/2), rests z/x, broken rhythm > <, tuplets (3
and (p:q:r, chords [..], grace notes {..} (no time), ties, slurs, chord symbols "Am",
decorations (~, .Tu, !trill!), the collection's "!" line ends, inline [M:..]/[L:..] and M:/L:
lines, bar lines | || |] [| |: :| :: and endings [1 |1 :|2. A blank line ends the tune.

A character either starts something or continues what is open: a span (`mode`: a field line, a
comment, [M:..], "..", {..}, !..!, a tuplet or broken-rhythm sign, each read by its own method in
_SPAN_READERS), a bar line (`pending_bar`: read once the character after it shows its kind), a
note or chord whose length may still grow, or a decoration or accidental that a note must follow
(`prefix`). What takes time goes to `bars` (bars.py), which adds it up.
"""
from __future__ import annotations

from typing import List, Optional

from labutils.music.rhythm.bars import Bars
from labutils.music.rhythm.notation import (
    ABC2MIDI_DECORATIONS,
    ACCIDENTALS,
    EIGHTH,
    FIELD_LETTERS,
    IN_A_CHORD,
    NOTE_LETTERS,
    REST_LETTERS,
    chord_symbol_ok,
    default_unit,
    meter_length,
    note_ticks,
    scale,
    ticks,
    tuplet_q,
    whole_notes,
)
from labutils.music.rhythm.repeats import BOTH, END, PLAIN, SOFT, START

# A character in the music that opens a span -> the span's mode (its text starts empty, or with
# the sign itself for broken rhythm, which repeats it: > >> >>>).
_SPAN_OPENERS = {'"': "quote", "{": "grace", "!": "bang", "%": "comment", "(": "tuplet", "<": "broken", ">": "broken"}


class AbcReader:
    """The character state machine; see the module docstring. RhythmState (state.py) adds what a
    sampler asks of it."""

    def __init__(self):
        self.where = "header"  # 'header', 'body', or 'done' (the blank line after the body)
        self.meter_text = ""  # the M: value, as written
        self.unit_t = None  # L:, the unit note length, in ticks
        self.line = ""  # the header line so far (header lines are read whole)
        self.at_line_start = True
        self.music_lines = 0  # lines of music read (a blank line before any ends nothing)
        self.mode = None  # the open span: None, 'maybe_field', 'field_colon', 'field', 'comment',
        self.mode_text = ""  # 'bracket', 'inline', 'quote', 'grace', 'bang', 'tuplet', 'broken'; its text
        self.pending_bar = ""  # '|' or ':' or ':|' or '[' waiting for the next character
        self.note: Optional[List] = None  # [length text, in a chord, letter] of the note being read
        self.prefix: Optional[str] = None  # a decoration or accidental that a note letter must follow
        self.in_chord = False  # between '[' and ']'
        self.chord_first = None  # ticks of the chord's first note
        self.chord_suffix: Optional[str] = None  # the length written after ']', while it may grow
        self.text_length = 0  # characters read
        self.bar_start = 0  # text position of the bar line being read
        self.body_start = 0  # text position of the music's first character
        self.bars = Bars()
        self.end_errors: List[str] = []  # what abc2midi reports at the tune's end (set by finish)

    # -- reading --------------------------------------------------------------------------------
    def copy(self):
        """An independent copy."""
        new = self.__class__.__new__(self.__class__)
        new.__dict__.update(self.__dict__)
        new.bars = self.bars.copy()
        new.note = list(self.note) if self.note is not None else None
        return new

    def feed(self, text: str):
        """Read more characters; returns self."""
        for char in text:
            self._feed_char(char)
            self.text_length += 1
        return self

    def finish(self):
        """Read the end of the text (closes a note or bar line still open, notes abc2midi's end-of-tune
        errors in `end_errors`); returns self."""
        if self.where == "body":
            if self.pending_bar:
                self._continue_bar(" ")
            self._end_token()
        self.end_errors = self.bars.finish()
        return self

    # -- one character ---------------------------------------------------------------------------
    def _feed_char(self, char: str) -> None:
        """Read one character: to the header, the open span, the waiting bar line, or the music."""
        if self.where == "done":
            return
        if self.where == "header":
            self._header_char(char)
            return
        if self.mode is not None:
            _SPAN_READERS[self.mode](self, char)
            return
        if self.pending_bar and self._continue_bar(char):
            return
        if char == "\n":
            self._end_of_line()
            return
        line_start, self.at_line_start = self.at_line_start, False
        if line_start and self.note is None and char.isalpha():
            self.mode, self.mode_text = "maybe_field", char
            return
        self._music_char(char)

    def _end_of_line(self) -> None:
        """A newline in the music: ends what is open; a blank line after music ends the tune."""
        self._end_token()
        if self.prefix is not None or self.in_chord:
            self._malformed("\n")
        if not self.at_line_start:
            self.music_lines += 1
        elif self.music_lines:  # a blank line after music ends the tune (one before it is skipped)
            self.where = "done"
        self.at_line_start = True

    def _malformed(self, text: str) -> None:
        """`text` here is ABC abc2midi cannot read."""
        self.bars.malformed(text)

    # -- the header and fields -------------------------------------------------------------------
    def _header_char(self, char: str) -> None:
        """A character of the header, read a line at a time: M:, L:, and K: (which starts the music)."""
        if char != "\n":
            self.line += char
            return
        line, self.line = self.line.strip(), ""
        if line.startswith("K:"):  # the last header line: the music starts
            if self.unit_t is None:
                self.unit_t = ticks(default_unit(whole_notes(self.bars.bar_t)))
            self.where = "body"
            self.body_start = self.text_length + 1
            self.bars.change_meter(self.bars.bar_t)
        elif line.startswith("M:"):
            self.meter_text = line[2:]
            self.bars.bar_t = ticks(meter_length(line[2:]))
        elif line.startswith("L:"):
            self.unit_t = ticks(meter_length(line[2:])) or self.unit_t

    def _field(self, text: str) -> None:
        """A field in the body (a line or [X:..]): meter and unit changes count."""
        if text.startswith("M:"):
            self.meter_text = text[2:]
            self.bars.change_meter(ticks(meter_length(text[2:])))
        elif text.startswith("L:"):
            self.unit_t = ticks(meter_length(text[2:])) or self.unit_t

    # -- spans: one reader per mode ----------------------------------------------------------------
    def _maybe_field(self, char: str) -> None:
        """A letter at a line start: a field "M:..." or music."""
        first, self.mode = self.mode_text, None
        if char == ":" and first in FIELD_LETTERS:
            self.mode, self.mode_text = "field_colon", first
            return
        self._music_char(first)
        self._feed_char(char)

    def _field_colon(self, char: str) -> None:
        """"D:" then ':' or '|' is music to abc2midi ("D:|"), else a field."""
        first, self.mode = self.mode_text, None
        if char in ":|":
            self._music_char(first)
            self._feed_char(":")
            self._feed_char(char)
            return
        self.mode, self.mode_text = "field", first + ":"
        self._feed_char(char)

    def _line_span(self, char: str) -> None:
        """A field line in the music (M:, L:, K:, w: ...) or a % comment, read to the line's end."""
        if char != "\n":
            self.mode_text += char
            return
        if self.mode == "field":
            self._field(self.mode_text.strip())
        self.mode = None
        self.at_line_start = True

    def _bracket(self, char: str) -> None:
        """"[M:" starts an inline field, "[CE" a chord."""
        letter, self.mode = self.mode_text, None
        if char == ":":
            self.mode, self.mode_text = "inline", letter + ":"
            return
        self.in_chord, self.chord_first = True, None
        self._music_char(letter)
        self._feed_char(char)

    def _closed_by(self, char: str, closer: str) -> bool:
        """Read a character of a span that `closer` ends: True when it ends it. A newline ends the
        span unclosed and is read as music."""
        if char == closer:
            self.mode = None
            return True
        if char == "\n":
            self.mode = None
            self._feed_char(char)
        else:
            self.mode_text += char
        return False

    def _inline_field(self, char: str) -> None:
        """[M:6/8]"""
        if self._closed_by(char, "]"):
            self._field(self.mode_text.strip())

    def _quote(self, char: str) -> None:
        """A chord symbol "Am" (abc2midi knows its names) or an annotation "^text"."""
        if char == "\n":
            self._malformed('"')  # abc2midi: "Guitar chord name not properly closed"
        if self._closed_by(char, '"') and not chord_symbol_ok(self.mode_text):
            text = self.mode_text
            self._malformed(f'"{text[1:] if text.startswith("(") else text}"')  # "Unrecognized chord name"

    def _bang(self, char: str) -> None:
        """"!" then a newline: a line break; "!word!": a decoration."""
        self._closed_by(char, "!")

    def _grace(self, char: str) -> None:
        """Grace notes {..} take no time."""
        if char == "}":
            self.mode = None

    def _tuplet_sign(self, char: str) -> None:
        """'(' then digits and ':' is a tuplet (3 or (p:q:r; '(' alone a slur ('(::' is a slur, then '::')."""
        if char.isdigit() or (char == ":" and self.mode_text[:1].isdigit()):
            self.mode_text += char
            return
        self.mode = None
        self._start_tuplet(self.mode_text)
        self._feed_char(char)

    def _broken_sign(self, char: str) -> None:
        """> >> < <<: broken rhythm between the notes on either side."""
        if char == self.mode_text[0]:
            self.mode_text += char
            return
        self.mode = None
        self._end_token()
        if not self.bars.broken_rhythm(self.mode_text):
            self._malformed(self.mode_text)  # no note right before it
        elif char in "|:":
            self._malformed(self.mode_text + char)  # the note after it is past a bar line, or a repeat's start
        self._feed_char(char)

    # -- notes, chords, decorations --------------------------------------------------------------
    def _music_char(self, char: str) -> None:
        """A character of the music outside any span."""
        if self.note is not None and self._note_goes_on(char):
            return
        if self.chord_suffix is not None:
            if char.isdigit() or char == "/":
                self.chord_suffix += char
                return
            self._end_chord()
        if self.prefix is not None and self._prefix_goes_on(char):
            return
        self._start_symbol(char)

    def _note_goes_on(self, char: str) -> bool:
        """True when char is part of the open note (its length or octave mark); else the note ends."""
        note = self.note
        if char.isdigit() or char == "/":
            note[0] += char
            return True
        if char in "',":  # an octave mark: right after the letter, ',' for C-B, "'" for c-b
            if not note[0] or char == ",":
                if note[0] or note[2] in REST_LETTERS or (char == "'") == note[2].isupper():
                    self._malformed(char)
                return True
        self._end_note()  # (a "'" after a length is the next note's decoration)
        return False

    def _prefix_goes_on(self, char: str) -> bool:
        """abc2midi's parsenote: decorations, then a chord, rest or accidental + letter. Flags what
        may not follow the open decoration or accidental; True when char continues it (^^, __)."""
        prefix, self.prefix = self.prefix, None
        if prefix in ("^", "_"):
            fits = char in NOTE_LETTERS or char == prefix
            self.prefix = prefix * 2 if char == prefix else None
        elif prefix == "=":
            fits = char in NOTE_LETTERS or char in "^_"
        elif prefix in ("^^", "__"):
            fits = char in NOTE_LETTERS
        else:
            fits = (char in NOTE_LETTERS or char in REST_LETTERS or char in ACCIDENTALS
                    or char in ABC2MIDI_DECORATIONS or (char == "[" and prefix not in "~T")
                    or (prefix == "." and char in "|("))
        if not fits:
            self._malformed(char)
        return self.prefix is not None

    def _start_symbol(self, char: str) -> None:
        """A character that starts something: a note, a prefix, a bar line, a chord's end, a span."""
        if self.in_chord and char not in IN_A_CHORD:
            self._malformed(char)
        if char in NOTE_LETTERS or char in REST_LETTERS:
            self.note = ["", self.in_chord, char]
        elif char in ACCIDENTALS or char in ABC2MIDI_DECORATIONS:
            self.prefix = char
        elif char.isdigit() or char in "/,ZX":  # abc2midi: "Unrecognized character"; Z, X: bars of rest
            self._malformed(char)  # (this model does not count those: refused, like the stray marks)
        elif char in "|:[":
            self.pending_bar, self.bar_start = char, self.text_length
        elif char == "]":
            if not self.in_chord:
                self._malformed(char)  # abc2midi: "Chord already finished"
            self.in_chord = False
            self.chord_suffix = ""
        elif char in _SPAN_OPENERS:
            self.mode, self.mode_text = _SPAN_OPENERS[char], char if char in "<>" else ""
        # ties, slurs, spaces and anything else take no time

    def _length_of(self, text: str):
        """note_ticks, flagging a length abc2midi cannot read (counted as one unit)."""
        length = note_ticks(text, self.unit_t)
        if length is None:
            self._malformed(text)
            return self.unit_t or EIGHTH
        return length

    def _end_note(self) -> None:
        """The open note is complete: its length goes to the bar, or to its chord."""
        text, in_chord, _ = self.note
        self.note = None
        length = self._length_of(text)
        if in_chord:
            if self.chord_first is None:
                self.chord_first = length
            return
        self.bars.add(length)

    def _end_chord(self) -> None:
        """A chord's length: its first note's, times the length written after ']'."""
        suffix, self.chord_suffix = self.chord_suffix, None
        first, self.chord_first = self.chord_first, None
        if first is None:
            return
        unit = self.unit_t or EIGHTH
        suffix_ticks = self._length_of(suffix)
        self.bars.add(scale(first, suffix_ticks, unit) if isinstance(unit, int)
                      else ticks(whole_notes(first) * whole_notes(suffix_ticks) / whole_notes(unit)))

    def _start_tuplet(self, text: str) -> None:
        """'(' then `text` ('3', '3:2:3', '' for a slur): the tuplet the next notes form."""
        if not text or not text[0].isdigit():
            return  # a slur
        parts = (text.split(":") + ["", ""])[:3]
        p = int(parts[0]) if parts[0].isdigit() else 3
        q = int(parts[1]) if parts[1].isdigit() else tuplet_q(p, self.meter_text)
        r = int(parts[2]) if parts[2].isdigit() else p
        if self.bars.tuplet is not None:
            self._malformed("(" + text)  # abc2midi: "nested tuples"
        if p > 0 and r > 0:
            self.bars.start_tuplet(q, p, r)

    def _end_token(self) -> None:
        """End the note or chord still open (what follows can no longer change its length)."""
        if self.note is not None:
            self._end_note()
        if self.chord_suffix is not None:
            self._end_chord()

    # -- bar lines and endings: one reader per character waiting in pending_bar --------------------
    def _continue_bar(self, char: str) -> bool:
        """Read the character after '|', ':', ':|' or '['; True when it was part of the bar line."""
        pending, self.pending_bar = self.pending_bar, ""
        return _BAR_READERS[pending](self, char)

    def _bar(self, kind: str, characters: int, digit_follows: bool = False) -> None:
        """A bar line of `kind` written in `characters` characters from bar_start."""
        self._end_token()
        self.bars.bar_line(kind, self.bar_start, characters, digit_follows)

    def _after_bar(self, char: str) -> bool:
        """'|' then: '|' or ']' (a section's end), ':' (a repeat starts), a digit (an ending)."""
        if char in "|]":
            self._bar(SOFT, 2)
        elif char == ":":
            self._bar(START, 2)
        elif char.isdigit():
            self._bar(PLAIN, 1, True)
            self.bars.ending(int(char))
        else:
            self._bar(PLAIN, 1)
            return False
        return True

    def _after_colon(self, char: str) -> bool:
        """':' then '|' (a repeat's end, read on) or ':' (an end and a start); a lone ':' takes no time."""
        if char == "|":
            self.pending_bar = ":|"
            return True
        if char == ":":
            self._bar(BOTH, 2)
            return True
        return False

    def _after_end_repeat(self, char: str) -> bool:
        """':|' then a digit (an ending), '|' or ']' (still a repeat's end), or anything else."""
        if char.isdigit():
            self._bar(END, 2, True)
            self.bars.ending(int(char))
            return True
        self._bar(END, 3 if char in "|]" else 2)
        return char in "|]"  # ':||' and ':|]' end a repeat too

    def _after_bracket(self, char: str) -> bool:
        """'[' then a digit (an ending), '|' (a section's start), a letter (an inline field or a
        chord's note: `_bracket` decides), or a chord's accidental or length."""
        self._end_token()
        if char.isdigit():
            self.bars.ending(int(char))
            return True
        if char == "|":
            self._bar(SOFT, 2)
            return True
        if char.isalpha():
            self.mode, self.mode_text = "bracket", char
            return True
        self.in_chord, self.chord_first = True, None
        return False


_SPAN_READERS = {
    "maybe_field": AbcReader._maybe_field, "field_colon": AbcReader._field_colon,
    "field": AbcReader._line_span, "comment": AbcReader._line_span, "bracket": AbcReader._bracket,
    "inline": AbcReader._inline_field, "quote": AbcReader._quote, "bang": AbcReader._bang,
    "grace": AbcReader._grace, "tuplet": AbcReader._tuplet_sign, "broken": AbcReader._broken_sign,
}
_BAR_READERS = {"|": AbcReader._after_bar, ":": AbcReader._after_colon, ":|": AbcReader._after_end_repeat,
                "[": AbcReader._after_bracket}
