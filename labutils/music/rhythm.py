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

Which bars are wrong is abc2midi's rule, reproduced here (measured on the 804 training
tunes in tests/test_rhythm.py): abc2midi plays the tune with its repeats and endings, adding
up note lengths; a plain bar line `|` checks the bar, any other bar line (`||`, `|]`, `[|`,
`|:`, `:|`, `::`) checks it only when it is full or over, else the length carries on into the
next bar. So a section's last bar joins the pickup that follows it, in both passes of a
repeat (back to the tune's start, or the last |:, :: or :|); the tune's first bar (a pickup)
is checked only when a repeat plays it again. `warnings` are what abc2midi would report;
`violations` adds what a sampler must also refuse: a note that overflows its bar.
"""
from __future__ import annotations

import re
from fractions import Fraction
from typing import List, Optional, Tuple

NOTE_LETTERS = set("ABCDEFGabcdefg")
REST_LETTERS = set("zx")
ACCIDENTALS = set("^_=")
DECORATION_LETTERS = set("HIJKLMNOPQRSTUVWhijklmnopqrstuvw~.")
_FRACTION = re.compile(r"^\s*(\d+)\s*/\s*(\d+)")

# Items of the written tune, in order: what the abc2midi playback reads.
DUR, BAR, ENDING, METER = "dur", "bar", "ending", "meter"
PLAIN, SOFT, START, END, BOTH = "|", "soft", "|:", ":|", "::"  # bar kinds


def meter_length(value: str) -> Optional[Fraction]:
    """Bar length (whole notes) of an M: value: '6/8' -> 3/4, 'C' -> 1, 'C|' -> 1; None for 'none'."""
    value = value.strip()
    if value.startswith("C|"):
        return Fraction(1)
    if value.startswith("C"):
        return Fraction(1)
    match = _FRACTION.match(value)
    if match and int(match.group(2)) > 0:
        return Fraction(int(match.group(1)), int(match.group(2)))
    return None  # M:none (free meter) or unreadable: bars are not checked


def default_unit(bar_length: Optional[Fraction]) -> Fraction:
    """The ABC standard's default L: 1/16 when the meter is below 3/4, else 1/8."""
    return Fraction(1, 16) if bar_length is not None and bar_length < Fraction(3, 4) else Fraction(1, 8)


def _tuplet_q(p: int, bar_length: Optional[Fraction], meter_text: str) -> int:
    if p in (2, 4, 8):
        return 3
    if p in (3, 6):
        return 2
    compound = re.match(r"\s*(6|9|12)/8", meter_text or "") is not None
    return 3 if compound else 2


class RhythmState:
    """Where a tune stands after the characters fed so far; see the module docstring."""

    def __init__(self):
        self.where = "header"  # 'header', 'body', or 'done' (the blank line after the body)
        self.meter_text = ""
        self.bar_length: Optional[Fraction] = Fraction(1)
        self.unit: Optional[Fraction] = None
        self.line = ""  # the current line so far (header and field lines are read whole)
        self.at_line_start = True
        self.mode = None  # None, 'field', 'quote', 'grace', 'bang', 'comment', 'inline', 'chord'
        self.mode_text = ""
        self.pending_bar = ""  # '|' or ':' or ':|' or '[' waiting for the next character
        self.note: Optional[List] = None  # [length text, in_chord] of the note being read
        self.chord_first: Optional[Fraction] = None
        self.chord_suffix: Optional[str] = None
        self.tuplet: Optional[List] = None  # [factor, notes left]
        self.tuplet_text: Optional[str] = None
        self.broken_next = Fraction(1)
        self.broken_text = ""
        self.last_length = Fraction(0)
        self.fill = Fraction(0)  # written length since the last bar line, carried length included
        self.carry = Fraction(0)
        self.bars_written = 0
        self.items: List[Tuple] = []
        self.playback = Playback()
        self.warnings: List[str] = []
        self.violations: List[str] = []
        self.text_length = 0
        self.section_start = None  # text position of the ':|' that began this section, if one did
        self.repeat_fixes: List[int] = []
        self.colon_at = 0

    # -- public helpers ---------------------------------------------------------------------
    def copy(self) -> RhythmState:
        """An independent copy (the item list is shared until either side appends)."""
        new = RhythmState.__new__(RhythmState)
        new.__dict__.update(self.__dict__)
        new.items = list(self.items)
        new.playback = self.playback.copy()
        new.warnings = list(self.warnings)
        new.violations = list(self.violations)
        new.note = list(self.note) if self.note is not None else None
        new.tuplet = list(self.tuplet) if self.tuplet is not None else None
        return new

    @property
    def ok(self) -> bool:
        """True while no bar is wrong and no note overflowed."""
        return not self.violations

    @property
    def in_note(self) -> bool:
        """True while a note's length may still grow (its letter or length digits were the last)."""
        return self.note is not None

    @property
    def bar_fill(self) -> Fraction:
        """Length of the current bar so far, with what a section's end carried into it."""
        return self.fill + (self._note_length(self.note[0]) if self.note and not self.note[1] else 0)

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
        """Read the end of the text (closes a note or bar line still open); returns self."""
        if self.where == "body":
            self._end_token()
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
            self.bar_length = meter_length(line[2:])
        elif line.startswith("L:"):
            self.unit = meter_length(line[2:]) or self.unit
        elif line.startswith("K:"):
            if self.unit is None:
                self.unit = default_unit(self.bar_length)
            self.where = "body"
            self.items.append((METER, self.bar_length))

    def _field(self, text: str) -> None:
        """A field in the body (a line or [X:..]): meter and unit changes count."""
        if text.startswith("M:"):
            self.meter_text = text[2:]
            self.bar_length = meter_length(text[2:])
            self.items.append((METER, self.bar_length))
        elif text.startswith("L:"):
            self.unit = meter_length(text[2:]) or self.unit

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
            if self.at_line_start:  # a blank line ends the tune
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
            if char == ":":
                self.mode, self.mode_text = "field", first + ":"
                return
            self._music_char(first)
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
            elif char == "\n":
                self.mode = None
                self._feed_char(char)
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
            if char.isdigit() or char == "/" or (char in "',"):
                if char not in "',":
                    note[0] += char
                return
            self._end_note()
        if self.chord_suffix is not None:
            if char.isdigit() or char == "/":
                self.chord_suffix += char
                return
            self._end_chord()
        if char in NOTE_LETTERS or char in REST_LETTERS:
            self.note = ["", self._in_chord]
            return
        if char in ACCIDENTALS:
            return
        if char == "|":
            self.pending_bar = "|"
        elif char == ":":
            self.pending_bar, self.colon_at = ":", self.text_length
        elif char == "[":
            self.pending_bar = "["
        elif char == "]" and self._in_chord:
            self._in_chord = False
            self.chord_suffix = ""
        elif char == '"':
            self.mode = "quote"
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

    # -- bar lines and endings ------------------------------------------------------------------------
    def _continue_bar(self, char: str) -> bool:
        """Read the character after '|', ':' or '['; True when it was part of the bar line."""
        pending, self.pending_bar = self.pending_bar, ""
        if pending == "|":
            if char == "|":
                self._bar(SOFT)
            elif char == "]":
                self._bar(SOFT)
            elif char == ":":
                self._bar(START)
            elif char.isdigit():
                self._bar(PLAIN)
                self._ending(int(char))
            else:
                self._bar(PLAIN)
                return False
            return True
        if pending == ":":
            if char == "|":
                self.pending_bar = ":|"
                return True
            if char == ":":
                self._bar(BOTH)
                return True
            return False  # a lone ':' takes no time
        if pending == ":|":
            if char.isdigit():
                self._bar(END)
                self._ending(int(char))
                return True
            self._bar(END)
            return char in "|]"  # ':||' and ':|]' end a repeat too
        if pending == "[":
            self._end_token()
            if char.isdigit():
                self._ending(int(char))
                return True
            if char == "|":
                self._bar(SOFT)
                return True
            if char.isalpha():
                self.mode, self.mode_text = "bracket", char
                return True
            self._in_chord, self.chord_first = True, None
            return False
        return False

    def _ending(self, number: int) -> None:
        """[1 / [2: the second ending is played after the bar before the first one.

        A first ending in a section that began at a ':|' (no '|:') makes abc2midi report an error
        ("found [1 or like before |:"); that ':|' written as '::' (what abc2midi assumes anyway)
        does not, so its text position goes to `repeat_fixes` (see `apply_repeat_fixes`).
        """
        self.items.append((ENDING, number))
        if (number == 1 or self.last_ending != 1) and self.section_start is not None:
            self.repeat_fixes.append(self.section_start)
            self.section_start = None
        self.last_ending = number
        if number == 1:
            self.carry_before_ending = self.carry if self.fill == self.carry else self.fill
        elif self.fill == self.carry:
            self.carry = self.fill = self.carry_before_ending

    carry_before_ending = Fraction(0)
    last_ending = 0
    overflowed = False

    def _bar(self, kind: str) -> None:
        self._end_token()
        if self.bar_length is not None and self.fill > self.bar_length and kind == PLAIN and self.bars_written == 0:
            self.violations.append(f"the first bar has {self.fill} of a whole note, over the meter's "
                                   f"{self.bar_length}")
        self.items.append((BAR, kind))
        self.bars_written += 1
        if kind in (START, BOTH):
            self.section_start = None
        elif kind == END:  # the ':|' that closes a first ending is no section's start
            self.section_start = None if self.last_ending == 1 else self.colon_at
            self.last_ending = 1 if self.last_ending == 1 else 0
        found = self.playback.run(self.items)
        if found:
            self.violations.extend(describe(w) for w in found)
            self.warnings = self.warnings + found
        # What the written bar leaves for the next one (the playback may differ after a repeat).
        if kind == PLAIN or self.bar_length is None or self.fill >= self.bar_length or self.fill == 0:
            self.carry = Fraction(0)
        else:
            self.carry = self.fill
        self.fill = self.carry
        self.overflowed = False

    # -- notes -----------------------------------------------------------------------------------------
    def _note_length(self, text: str) -> Fraction:
        unit = self.unit or Fraction(1, 8)
        match = re.match(r"(\d*)(.*)", text)
        length = Fraction(int(match.group(1))) if match.group(1) else Fraction(1)
        for slash in re.findall(r"/(\d*)", match.group(2)):
            length /= int(slash) if slash and int(slash) > 0 else 2
        return length * unit

    def _end_note(self) -> None:
        text, in_chord = self.note
        self.note = None
        length = self._note_length(text)
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
        self._add(first * self._note_length(suffix) / (self.unit or Fraction(1, 8)))

    def _add(self, length: Fraction) -> None:
        length *= self.broken_next
        self.broken_next = Fraction(1)
        if self.tuplet is not None:
            length *= self.tuplet[0]
            self.tuplet[1] -= 1
            if self.tuplet[1] <= 0:
                self.tuplet = None
        self.last_length = length
        self.fill += length
        self.items.append((DUR, length))
        self._check_overflow()

    def _check_overflow(self) -> None:
        if self.bar_length is not None and self.fill > self.bar_length and not self.overflowed:
            self.overflowed = True
            self.violations.append(f"bar {self.bars_written}: a note overflows the bar ({self.fill} of a "
                                   f"whole note, the meter has {self.bar_length})")

    def _apply_broken(self, text: str) -> None:
        """A>B: A gets 3/2 of its length and B 1/2 (>> 7/4 and 1/4; < the other way round)."""
        self._end_token(keep_tuplet=True)
        if self.last_length == 0 or not self.items or self.items[-1][0] != DUR:
            return
        depth = len(text)
        short = Fraction(1, 2 ** depth)
        first, second = (2 - short, short) if text[0] == ">" else (short, 2 - short)
        extra = self.last_length * (first - 1)
        self.fill += extra
        self.items[-1] = (DUR, self.items[-1][1] + extra)
        self.last_length = Fraction(0)
        self.broken_next = second
        self._check_overflow()

    def _start_tuplet(self, text: str) -> None:
        if not text or not text[0].isdigit():
            return  # a slur
        parts = (text.split(":") + ["", ""])[:3]
        p = int(parts[0]) if parts[0].isdigit() else 3
        q = int(parts[1]) if parts[1].isdigit() else _tuplet_q(p, self.bar_length, self.meter_text)
        r = int(parts[2]) if parts[2].isdigit() else p
        if p > 0 and r > 0:
            self.tuplet = [Fraction(q, p), r]

    def _end_token(self, keep_tuplet: bool = False) -> None:
        if self.note is not None:
            self._end_note()
        if self.chord_suffix is not None:
            self._end_chord()


def apply_repeat_fixes(text: str, fixes: List[int]) -> str:
    """Write each ':|' at the given positions of `text` as '::' (see RhythmState._ending)."""
    chars = list(text)
    for pos in fixes:
        if text[pos:pos + 2] == ":|":
            chars[pos + 1] = ":"
    return "".join(chars)


def describe(warning: Tuple[int, Fraction, Fraction, int]) -> str:
    """One line for a wrong bar found by `simulate`."""
    bar, length, expected, pass_ = warning
    return (f"bar {bar} has {length} of a whole note, the meter {expected}"
            + (" (when the repeat plays it)" if pass_ == 2 else ""))


class Playback:
    """abc2midi's playback of the written items (repeats, endings), resumable as items are appended.

    `run(items)` plays from where it stopped to the end of `items` and returns the wrong bars
    it found there: (bar number, its length, the meter's length, pass 1 or 2), in the order
    abc2midi reports them. abc2midi numbers bars as it checks them and goes back to the
    repeat's number when it repeats. Text not yet ended by a bar line is not checked.
    """

    def __init__(self):
        self.pos, self.track, self.bar_num, self.bar_length = 0, Fraction(0), 0, None
        self.target, self.target_bar, self.pass_ = 0, 0, 1

    def copy(self) -> Playback:
        new = Playback.__new__(Playback)
        new.__dict__.update(self.__dict__)
        return new

    def run(self, items: List[Tuple]) -> List[Tuple[int, Fraction, Fraction, int]]:
        found = []
        pos, end, track, bar_num, bar_length = self.pos, len(items), self.track, self.bar_num, self.bar_length
        target, target_bar, pass_ = self.target, self.target_bar, self.pass_
        while pos < end:
            kind, value = items[pos]
            if kind == DUR:
                track += value
            elif kind == METER:
                bar_length = value
            elif kind == ENDING:
                if pass_ == 2 and value == 1:  # the second time through, skip the first ending
                    nxt = next((i for i in range(pos + 1, end)
                                if items[i][0] == BAR and items[i][1] in (END, BOTH)), None)
                    if nxt is None:
                        break  # its end is not written yet: wait here
                    bar_num += 1
                    pos, pass_, target, target_bar = nxt + 1, 1, nxt + 1, bar_num
                    continue
            elif kind == BAR:
                if bar_length is None:
                    track = Fraction(0)
                elif track > 0 and (value == PLAIN or track >= bar_length):
                    if track != bar_length and not (bar_num == 0 and pass_ == 1):
                        found.append((bar_num, track, bar_length, pass_))
                    bar_num += 1
                    track = Fraction(0)
                if value == START:
                    target, target_bar, pass_ = pos + 1, bar_num, 1
                elif value in (END, BOTH):
                    if pass_ == 1:
                        pos, bar_num, pass_ = target, target_bar, 2
                        continue
                    target, target_bar, pass_ = pos + 1, bar_num, 1
            pos += 1
        self.pos, self.track, self.bar_num, self.bar_length = pos, track, bar_num, bar_length
        self.target, self.target_bar, self.pass_ = target, target_bar, pass_
        return found


def simulate(items: List[Tuple]) -> List[Tuple[int, Fraction, Fraction, int]]:
    """Play written items as abc2midi does (see Playback); return its wrong bars."""
    return Playback().run(items)


def tune_warnings(tune: str) -> List[Tuple[int, Fraction, Fraction, int]]:
    """abc2midi's wrong bars of a whole tune, as `simulate` reproduces them."""
    return RhythmState().feed(tune.rstrip("\n") + "\n").finish().warnings


def bad_bar_count(tune: str) -> int:
    """How many bars abc2midi would report with the wrong length (each bar number once)."""
    return len({bar for bar, _, _, _ in tune_warnings(tune)})
