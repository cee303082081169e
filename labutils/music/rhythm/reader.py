"""ABC rhythm, exact and incremental: how full is the current bar, and which bars abc2midi flags.

    state = RhythmState()
    state.feed("X:1\\nM:6/8\\nL:1/8\\nK:G\\nD|GED DED|")
    state.where, state.bar_fill, state.bar_length   # 'body', Fraction(0, 1), Fraction(3, 4)
    state.allows("|"), state.ok, state.violations   # would a bar line now break a bar? any broken?
    copy = state.copy()                             # cheap: a sampler keeps one per row

Lengths are `fractions.Fraction`s of a whole note. The state reads the header (M:, L:, the
default L: from the meter), then the body one character at a time: notes with accidentals,
octave marks and lengths (2, /, //, 3/2), rests z/x, broken rhythm > <, tuplets (3 and
(p:q:r, chords [..], grace notes {..} (no time), ties, slurs, chord symbols "Am",
decorations (~, .Tu, !trill!), the collection's "!" line ends, inline [M:..]/[L:..] and M:/L:
lines, bar lines | || |] [| |: :| :: and endings [1 |1 :|2. A blank line ends the tune.

Which bars are wrong is abc2midi's rule, reproduced here (compared with abc2midi on the training
tunes in tests/test_rhythm.py): abc2midi plays the tune with its repeats and endings, adding
up note lengths; a plain bar line `|` checks the bar, any other bar line (`||`, `|]`, `[|`,
`|:`, `:|`, `::`) checks it only when it is full or over, else the length carries on into the
next bar. So a section's last bar joins the pickup that follows it, in both passes of a
repeat (back to the tune's start, or the last |:, :: or :|); the tune's first bar (a pickup)
is checked only when a repeat plays it again. `warnings` are what abc2midi would report;
`violations` adds what a sampler must also refuse: a note that overflows its bar.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Dict, List, Optional, Tuple

from labutils.music.rhythm.notation import (
    ABC2MIDI_DECORATIONS,
    ACCIDENTALS,
    EIGHTH,
    FIELD_LETTERS,
    IN_A_CHORD,
    NOTE_LETTERS,
    REST_LETTERS,
    TICKS,
    chord_symbol_ok,
    default_unit,
    meter_length,
    note_ticks,
    scale,
    ticks,
    tuplet_q,
    whole_notes,
)
from labutils.music.rhythm.repeats import (
    BAR,
    BOTH,
    DUR,
    END,
    ENDING,
    METER,
    PLAIN,
    SOFT,
    START,
    START_POINT,
    RepeatSimulator,
)


class RhythmState:
    """Where a tune stands after the characters fed so far; see the module docstring."""

    def __init__(self):
        self.where = "header"  # 'header', 'body', or 'done' (the blank line after the body)
        self.meter_text = ""
        self.bar_t = TICKS  # the bar's length in ticks (None: free meter, bars not checked)
        self.unit_t = None  # L:, the unit note length, in ticks
        self.line = ""  # the current line so far (header and field lines are read whole)
        self.at_line_start = True
        self.mode = None  # None, 'field', 'quote', 'grace', 'bang', 'comment', 'inline', 'chord'
        self.mode_text = ""
        self.pending_bar = ""  # '|' or ':' or ':|' or '[' waiting for the next character
        self.note: Optional[List] = None  # [length text, in_chord, letter] of the note being read
        self.prefix: Optional[str] = None  # a decoration or accidental that a note letter must follow
        self.chord_first = None  # ticks of the chord's first note
        self.chord_suffix: Optional[str] = None
        self.tuplet: Optional[List] = None  # [q, p, notes left]: each note takes q/p of its length
        self.tuplet_text: Optional[str] = None
        self.broken_next: Optional[Tuple[int, int]] = None  # (numerator, denominator) for the next note
        self.broken_text = ""
        self.last_length = 0  # ticks, as are fill_t and carry_t
        self.fill_t = 0  # written length since the last bar line, carried length included
        self.carry_t = 0
        self.bars_written = 0
        self.items: List[Tuple] = []
        self.repeats = RepeatSimulator()
        self.note_violations: List[str] = []  # notes that overflow their bar (the repeat simulation finds the rest)
        self.end_errors: List[str] = []  # what abc2midi reports at the tune's end (set by finish)
        self.text_length = 0
        self.music_lines = 0  # lines of music read (a blank line before any ends nothing)
        self.bar_start = 0  # text position of the bar line being read
        self.body_start = 0  # text position of the music's first character
        self.bar_text: Dict[int, Tuple[int, int, bool]] = {}  # bar item -> (text position, characters, a digit next)

    # -- public helpers ---------------------------------------------------------------------
    def copy(self) -> RhythmState:
        """An independent copy (the item list is shared until either side appends)."""
        new = RhythmState.__new__(RhythmState)
        new.__dict__.update(self.__dict__)
        new.items = list(self.items)
        new.repeats = self.repeats.copy()
        new.note_violations = list(self.note_violations)
        new.bar_text = dict(self.bar_text)
        new.note = list(self.note) if self.note is not None else None
        new.tuplet = list(self.tuplet) if self.tuplet is not None else None
        return new

    @property
    def ok(self) -> bool:
        """True while no bar is wrong, no note overflowed and abc2midi would report no repeat error."""
        return not self.note_violations and self.repeats.ok

    @property
    def violations(self) -> List[str]:
        """What is wrong so far: overflowing notes, wrong bars (abc2midi's warnings), repeat errors."""
        return (self.note_violations + [describe(w) for w in self.warnings]
                + [f"repeat signs: {m}" for m in self.repeats.sampling_errors])

    @property
    def warnings(self) -> List[Tuple[int, Fraction, Fraction, int]]:
        """The wrong bars abc2midi would report: (bar number, its length, the meter's, pass), in whole notes."""
        return [(bar, whole_notes(length), whole_notes(meter), pass_) for bar, length, meter, pass_ in self.repeats.warnings]

    def repeat_fixes(self) -> List[Tuple[int, int, str]]:
        """Text edits (position, characters replaced, new text) that write out abc2midi's repeat fix-ups.

        Empty unless abc2midi would report a fix-up as an error (a first ending or a '::' with no open
        repeat, a second '|:'): written out, the same repeats play with no error. See RepeatSimulator.
        """
        repeats = self.repeats
        if not any(fixable for _, _, fixable in repeats.fix_errors):
            return []
        edits = []
        for item, kind in repeats.patches.items():
            if item == START_POINT:
                edits.append((self.body_start, 0, "|:"))
                continue
            pos, length, digit_follows = self.bar_text[item]
            new = "::" if kind == BOTH else "|:"
            if digit_follows:
                new += "["  # ':|2' written out: '::[2' ('::2' is no ABC)
            edits.append((pos, length, new))
        return sorted(edits)

    @property
    def bar_length(self) -> Optional[Fraction]:
        """The meter's bar length in whole notes (None for a free meter)."""
        return whole_notes(self.bar_t)

    @property
    def unit(self) -> Optional[Fraction]:
        """The unit note length (L:) in whole notes, once the header has set it."""
        return whole_notes(self.unit_t)

    @property
    def carry(self) -> Fraction:
        """What the last section's end carried into the current bar, in whole notes."""
        return whole_notes(self.carry_t)

    @property
    def in_note(self) -> bool:
        """True while a note's length may still grow (its letter or length digits were the last)."""
        return self.note is not None

    @property
    def bar_fill(self) -> Fraction:
        """Length of the current bar so far, with what a section's end carried into it."""
        return whole_notes(self.fill_ticks())

    def fill_ticks(self):
        """bar_fill in ticks."""
        if self.note is None or self.note[1]:
            return self.fill_t
        return self.fill_t + (note_ticks(self.note[0], self.unit_t) or self.unit_t or EIGHTH)

    def allows(self, text: str) -> bool:
        """Would `text`, then a space, keep every bar right? The state itself is unchanged.

        The space ends an open note or bar line (a bar line is read when the character after it
        arrives: `|` may still become `||`, `|]`, `|:` or `|1`), so `allows("|")` asks about a plain
        bar line now.
        """
        trial = self.copy()
        trial.feed(text + " ")
        return trial.ok

    def finish(self) -> RhythmState:
        """Read the end of the text (closes a note or bar line still open, notes abc2midi's end-of-tune
        errors in `end_errors`); returns self."""
        if self.where == "body":
            if self.pending_bar:
                self._continue_bar(" ")
            self._end_token()
        self.end_errors = self.repeats.finish(self.items)
        return self

    def feed(self, text: str) -> RhythmState:
        """Read more characters; returns self."""
        for char in text:
            self._feed_char(char)
            self.text_length += 1
        return self

    # -- the header ------------------------------------------------------------------------------
    def _header_line(self, line: str) -> None:
        if line.startswith("M:"):
            self.meter_text = line[2:]
            self.bar_t = ticks(meter_length(line[2:]))
        elif line.startswith("L:"):
            self.unit_t = ticks(meter_length(line[2:])) or self.unit_t
        elif line.startswith("K:"):
            if self.unit_t is None:
                self.unit_t = ticks(default_unit(self.bar_length))
            self.where = "body"
            self.body_start = self.text_length + 1
            self.items.append((METER, self.bar_t))

    def _field(self, text: str) -> None:
        """A field in the body (a line or [X:..]): meter and unit changes count."""
        if text.startswith("M:"):
            self.meter_text = text[2:]
            self.bar_t = ticks(meter_length(text[2:]))
            self.items.append((METER, self.bar_t))
        elif text.startswith("L:"):
            self.unit_t = ticks(meter_length(text[2:])) or self.unit_t

    # -- one character ---------------------------------------------------------------------------
    def _feed_char(self, char: str) -> None:
        if self.where == "done":
            return
        if self.where == "header":
            if char == "\n":
                self._header_line(self.line.strip())
                self.line = ""
            else:
                self.line += char
            return
        if self.mode is not None:
            self._in_mode(char)
            return
        if self.pending_bar:
            if self._continue_bar(char):
                return
        if char == "\n":
            self._end_token()
            if self.prefix is not None or self._in_chord:
                self._malformed(char)
            if not self.at_line_start:
                self.music_lines += 1
            elif self.music_lines:  # a blank line after music ends the tune (one before it is skipped)
                self.where = "done"
            self.at_line_start = True
            return
        line_start, self.at_line_start = self.at_line_start, False
        if line_start and self.note is None and char.isalpha() and char not in "|":
            self.mode, self.mode_text = "maybe_field", char
            return
        self._music_char(char)

    def _in_mode(self, char: str) -> None:
        mode = self.mode
        if mode == "maybe_field":  # a letter at a line start: a field "M:..." or music
            first = self.mode_text
            self.mode = None
            if char == ":" and first in FIELD_LETTERS:
                self.mode, self.mode_text = "field_colon", first
                return
            self._music_char(first)
            self._feed_char(char)
            return
        if mode == "field_colon":  # "D:" then ':' or '|' is music to abc2midi ("D:|"), else a field
            first = self.mode_text
            self.mode = None
            if char in ":|":
                self._music_char(first)
                self._feed_char(":")
                self._feed_char(char)
                return
            self.mode, self.mode_text = "field", first + ":"
            self._feed_char(char)
            return
        if mode in ("field", "comment"):
            if char == "\n":
                if mode == "field":
                    self._field(self.mode_text.strip())
                self.mode = None
                self.at_line_start = True
            else:
                self.mode_text += char
            return
        if mode == "bracket":  # "[M:" starts an inline field, "[CE" a chord
            letter, self.mode = self.mode_text, None
            if char == ":":
                self.mode, self.mode_text = "inline", letter + ":"
                return
            self._in_chord, self.chord_first = True, None
            self._music_char(letter)
            self._feed_char(char)
            return
        if mode == "inline":  # [M:6/8]
            if char == "]":
                self._field(self.mode_text.strip())
                self.mode = None
            elif char == "\n":
                self.mode = None
                self._feed_char(char)
            else:
                self.mode_text += char
            return
        if mode == "quote":
            if char == '"':
                self.mode = None
                self._chord_symbol(self.mode_text)
            elif char == "\n":
                self.mode = None
                self._malformed('"')  # abc2midi: "Guitar chord name not properly closed"
                self._feed_char(char)
            else:
                self.mode_text += char
            return
        if mode == "grace":
            if char == "}":
                self.mode = None
            return
        if mode == "bang":  # "!" then a newline: a line break; "!word!": a decoration
            if char == "!":
                self.mode = None
            elif char == "\n":
                self.mode = None
                self._feed_char(char)
            return
        if mode == "tuplet":
            if char.isdigit() or char == ":":
                self.tuplet_text += char
                return
            self.mode = None
            self._start_tuplet(self.tuplet_text)
            self._feed_char(char)
            return
        if mode == "broken":
            if char == self.broken_text[0]:
                self.broken_text += char
                return
            self.mode = None
            self._apply_broken(self.broken_text)
            self._feed_char(char)
            return

    def _music_char(self, char: str) -> None:
        note = self.note
        if note is not None:
            if char.isdigit() or char == "/":
                note[0] += char
                return
            if char in "',":  # an octave mark: right after the letter, ',' for C-B, "'" for c-b
                if not note[0] or char == ",":
                    if note[0] or note[2] in REST_LETTERS or (char == "'") == note[2].isupper():
                        self._malformed(char)
                    return
            self._end_note()  # (a "'" after a length is the next note's decoration)
        if self.chord_suffix is not None:
            if char.isdigit() or char == "/":
                self.chord_suffix += char
                return
            self._end_chord()
        prefix = self.prefix
        if prefix is not None:  # abc2midi's parsenote: decorations, then a chord, rest or accidental + letter
            self.prefix = None
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
            if self.prefix is not None:
                return
        if self._in_chord and char not in IN_A_CHORD:
            self._malformed(char)
        if char in NOTE_LETTERS or char in REST_LETTERS:
            self.note = ["", self._in_chord, char]
            return
        if char in ACCIDENTALS:
            self.prefix = char
            return
        if char in ABC2MIDI_DECORATIONS:
            self.prefix = char
            return
        if char.isdigit() or char in "/,ZX":  # abc2midi: "Unrecognized character"; Z, X: bars of rest
            self._malformed(char)  # (this model does not count those: refused, like the stray marks)
            return
        if char == "|":
            self.pending_bar, self.bar_start = "|", self.text_length
        elif char == ":":
            self.pending_bar, self.bar_start = ":", self.text_length
        elif char == "[":
            self.pending_bar, self.bar_start = "[", self.text_length
        elif char == "]":
            if not self._in_chord:
                self._malformed(char)  # abc2midi: "Chord already finished"
            self._in_chord = False
            self.chord_suffix = ""
        elif char == '"':
            self.mode, self.mode_text = "quote", ""
        elif char == "{":
            self.mode = "grace"
        elif char == "!":
            self.mode = "bang"
        elif char == "%":
            self.mode = "comment"
        elif char == "(":
            self.mode, self.tuplet_text = "tuplet", ""
        elif char in "<>":
            self.mode, self.broken_text = "broken", char
        # ties, slurs, spaces, decorations, accidentals and anything else take no time

    _in_chord = False

    def _chord_symbol(self, text: str) -> None:
        """A chord symbol "Am" (abc2midi knows its names) or an annotation "^text"."""
        if not chord_symbol_ok(text):
            self._malformed(f'"{text[1:] if text.startswith("(") else text}"')  # abc2midi: "Unrecognized chord name"

    def _malformed(self, char: str) -> None:
        self.note_violations.append(f"bar {self.bars_written}: {char!r} here is no ABC abc2midi reads "
                                    "(a decoration or accidental with no note, a stray length or octave mark, "
                                    "or a chord left open)")

    # -- bar lines and endings ------------------------------------------------------------------------
    def _continue_bar(self, char: str) -> bool:
        """Read the character after '|', ':' or '['; True when it was part of the bar line."""
        pending, self.pending_bar = self.pending_bar, ""
        if pending == "|":
            if char == "|":
                self._bar(SOFT, 2)
            elif char == "]":
                self._bar(SOFT, 2)
            elif char == ":":
                self._bar(START, 2)
            elif char.isdigit():
                self._bar(PLAIN, 1, True)
                self._ending(int(char))
            else:
                self._bar(PLAIN, 1)
                return False
            return True
        if pending == ":":
            if char == "|":
                self.pending_bar = ":|"
                return True
            if char == ":":
                self._bar(BOTH, 2)
                return True
            return False  # a lone ':' takes no time
        if pending == ":|":
            if char.isdigit():
                self._bar(END, 2, True)
                self._ending(int(char))
                return True
            self._bar(END, 3 if char in "|]" else 2)
            return char in "|]"  # ':||' and ':|]' end a repeat too
        if pending == "[":
            self._end_token()
            if char.isdigit():
                self._ending(int(char))
                return True
            if char == "|":
                self._bar(SOFT, 2)
                return True
            if char.isalpha():
                self.mode, self.mode_text = "bracket", char
                return True
            self._in_chord, self.chord_first = True, None
            return False
        return False

    def _ending(self, number: int) -> None:
        """[1 / [2: the second ending is played after the bar before the first one."""
        self.items.append((ENDING, number))
        self.repeats.run(self.items)
        if number == 1:
            self.carry_before_ending = self.carry_t if self.fill_t == self.carry_t else self.fill_t
        elif self.fill_t == self.carry_t:
            self.carry_t = self.fill_t = self.carry_before_ending

    carry_before_ending = 0
    overflowed = False
    broken_first = 0  # the length of the note before '>' (the one after must be as long)

    def _bar(self, kind: str, length: int, digit_follows: bool = False) -> None:
        self._end_token()
        if self.bar_t is not None and self.fill_t > self.bar_t and kind == PLAIN and self.bars_written == 0:
            self.note_violations.append(f"the first bar has {whole_notes(self.fill_t)} of a whole note, over the meter's "
                                        f"{self.bar_length}")
        self.bar_text[len(self.items)] = (self.bar_start, length, digit_follows)
        self.items.append((BAR, kind))
        self.bars_written += 1
        self.repeats.run(self.items)
        # What the written bar leaves for the next one (the playback may differ after a repeat).
        if kind == PLAIN or self.bar_t is None or self.fill_t >= self.bar_t or self.fill_t == 0:
            self.carry_t = 0
        else:
            self.carry_t = self.fill_t
        self.fill_t = self.carry_t
        self.overflowed = False

    # -- notes -----------------------------------------------------------------------------------------
    def _length_of(self, text: str):
        """note_ticks, flagging a length abc2midi cannot read (counted as one unit)."""
        length = note_ticks(text, self.unit_t)
        if length is None:
            self._malformed(text)
            return self.unit_t or EIGHTH
        return length

    def _end_note(self) -> None:
        text, in_chord, _ = self.note
        self.note = None
        length = self._length_of(text)
        if in_chord:
            if self.chord_first is None:
                self.chord_first = length
            return
        self._add(length)

    def _end_chord(self) -> None:
        suffix, self.chord_suffix = self.chord_suffix, None
        first, self.chord_first = self.chord_first, None
        if first is None:
            return
        unit = self.unit_t or EIGHTH
        suffix_ticks = self._length_of(suffix)
        self._add(scale(first, suffix_ticks, unit) if isinstance(unit, int)
                  else ticks(whole_notes(first) * whole_notes(suffix_ticks) / whole_notes(unit)))

    def _add(self, length) -> None:
        if self.tuplet is not None:
            length = scale(length, self.tuplet[0], self.tuplet[1])
            self.tuplet[2] -= 1
            if self.tuplet[2] <= 0:
                self.tuplet = None
        if self.broken_next is not None:
            if length != self.broken_first:
                self._malformed(">")  # abc2midi: "Cannot apply broken rhythm. Notes not equal durations"
            length = scale(length, *self.broken_next)
            self.broken_next = None
        self.last_length = length
        self.fill_t += length
        self.items.append((DUR, length))
        if self.bar_t is not None and self.fill_t > self.bar_t and not self.overflowed:
            self._overflow()

    def _overflow(self) -> None:
        self.overflowed = True
        self.note_violations.append(f"bar {self.bars_written}: a note overflows the bar ({whole_notes(self.fill_t)} of "
                                    f"a whole note, the meter has {self.bar_length})")

    def _apply_broken(self, text: str) -> None:
        """A>B: A gets 3/2 of its length and B 1/2 (>> 7/4 and 1/4; < the other way round)."""
        self._end_token()
        if self.last_length == 0 or not self.items or self.items[-1][0] != DUR:
            self._malformed(text)  # no note right before it
            return
        self.broken_first = self.last_length
        whole = 2 ** len(text)  # '>': the first note 2 - 1/2 of its length, the second 1/2 (>>: 7/4, 1/4; <: swapped)
        first, second = ((2 * whole - 1, whole), (1, whole)) if text[0] == ">" else ((1, whole), (2 * whole - 1, whole))
        extra = scale(self.last_length, first[0] - first[1], first[1])
        self.fill_t += extra
        self.items[-1] = (DUR, self.items[-1][1] + extra)
        self.last_length = 0
        self.broken_next = second
        if self.bar_t is not None and self.fill_t > self.bar_t and not self.overflowed:
            self._overflow()

    def _start_tuplet(self, text: str) -> None:
        if not text or not text[0].isdigit():
            return  # a slur
        parts = (text.split(":") + ["", ""])[:3]
        p = int(parts[0]) if parts[0].isdigit() else 3
        q = int(parts[1]) if parts[1].isdigit() else tuplet_q(p, self.meter_text)
        r = int(parts[2]) if parts[2].isdigit() else p
        if p > 0 and r > 0:
            self.tuplet = [q, p, r]

    def _end_token(self) -> None:
        if self.note is not None:
            self._end_note()
        if self.chord_suffix is not None:
            self._end_chord()


def describe(warning: Tuple[int, Fraction, Fraction, int]) -> str:
    """One line for a wrong bar found by the playback."""
    bar, length, expected, pass_ = warning
    return (f"bar {bar} has {length} of a whole note, the meter {expected}"
            + (" (when the repeat plays it)" if pass_ == 2 else ""))


def apply_repeat_fixes(text: str, edits: List[Tuple[int, int, str]]) -> str:
    """Apply RhythmState.repeat_fixes() edits to the text that state read."""
    for pos, length, new in sorted(edits, reverse=True):
        text = text[:pos] + new + text[pos + length:]
    return text


def repeat_errors(tune: str) -> List[str]:
    """The repeat-sign errors abc2midi would report for a whole tune (this module's reading of them)."""
    state = RhythmState().feed(tune.rstrip("\n") + "\n").finish()
    return state.repeats.reported_errors + state.end_errors


def tune_warnings(tune: str) -> List[Tuple[int, Fraction, Fraction, int]]:
    """abc2midi's wrong bars of a whole tune, as the RepeatSimulator plays it."""
    return RhythmState().feed(tune.rstrip("\n") + "\n").finish().warnings


def bad_bar_count(tune: str) -> int:
    """How many bars abc2midi would report with the wrong length (each bar number once)."""
    return len({bar for bar, _, _, _ in tune_warnings(tune)})
