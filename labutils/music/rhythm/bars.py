"""The time of a tune as written: note lengths added into bars, bar lines, endings and meters.

`Bars` is what the reader (reader.py) tells about the music, in order: a note of this length,
a tuplet or broken rhythm that changes the next lengths, a bar line of this kind, an ending, a
new meter. It keeps how full the current bar is, what a section's end carries into the next
bar, the notes that overflow their bar, and the items abc2midi's repeat simulation (repeats.py)
plays to find the wrong bars and repeat errors. All lengths are ticks (notation.py).
"""
from __future__ import annotations

from fractions import Fraction
from typing import Dict, List, Optional, Tuple

from labutils.music.rhythm.notation import TICKS, scale, whole_notes
from labutils.music.rhythm.repeats import BAR, BOTH, DUR, ENDING, METER, PLAIN, START_POINT, RepeatSimulator


class Bars:
    """The bars of the music read so far, and what is wrong with them."""

    def __init__(self):
        self.bar_t = TICKS  # the meter's bar length (None: free meter, bars not checked)
        self.fill_t = 0  # written length since the last bar line, carried length included
        self.carry_t = 0  # what the last section's end carried into the current bar
        self.carry_before_ending = 0  # the carry when the first ending began (the second starts there too)
        self.written = 0  # bar lines written
        self.overflowed = False  # a note overflowed the current bar (flagged once per bar)
        self.last_length = 0  # the last note's length (0 once a broken rhythm has used it)
        self.tuplet: Optional[List] = None  # [q, p, notes left]: each note takes q/p of its length
        self.broken_next: Optional[Tuple[int, int]] = None  # (numerator, denominator) for the next note
        self.broken_first = 0  # the length of the note before '>' (the one after must be as long)
        self.items: List[Tuple] = []  # what the repeat simulation plays (see repeats.py)
        self.bar_text: Dict[int, Tuple[int, int, bool]] = {}  # bar item -> (text position, characters, a digit next)
        self.repeats = RepeatSimulator()
        self.problems: List[str] = []  # notes that overflow their bar, ABC abc2midi cannot read
        self.closed: Tuple = (0, (), None, None)  # written_bars so far: (items read, bars closed, ending, meter)

    def copy(self) -> Bars:
        """An independent copy."""
        new = Bars.__new__(Bars)
        new.__dict__.update(self.__dict__)
        new.items = list(self.items)
        new.bar_text = dict(self.bar_text)
        new.repeats = self.repeats.copy()
        new.problems = list(self.problems)
        new.tuplet = list(self.tuplet) if self.tuplet is not None else None
        return new

    # -- what the reader tells -------------------------------------------------------------------
    def change_meter(self, bar_t) -> None:
        """The meter from here on (bar length in ticks, None for a free meter)."""
        self.bar_t = bar_t
        self.items.append((METER, bar_t))

    def add(self, length) -> None:
        """A note or chord of `length` ticks as written; a tuplet or broken rhythm changes it."""
        if self.tuplet is not None:
            length = scale(length, self.tuplet[0], self.tuplet[1])
            self.tuplet[2] -= 1
            if self.tuplet[2] <= 0:
                self.tuplet = None
        if self.broken_next is not None:
            if length != self.broken_first:
                self.malformed(">")  # abc2midi: "Cannot apply broken rhythm. Notes not equal durations"
            length = scale(length, *self.broken_next)
            self.broken_next = None
        self.last_length = length
        self.fill_t += length
        self.items.append((DUR, length))
        self._check_overflow()

    def start_tuplet(self, q: int, p: int, notes: int) -> None:
        """(p:q:r: the next `notes` notes take q/p of their length."""
        self.tuplet = [q, p, notes]

    def broken_rhythm(self, sign: str) -> bool:
        """A>B: A gets 3/2 of its length and B 1/2 (>> 7/4 and 1/4; < the other way round). False
        when no note stands right before the sign."""
        if self.last_length == 0 or not self.items or self.items[-1][0] != DUR:
            return False
        self.broken_first = self.last_length
        whole = 2 ** len(sign)
        first, second = ((2 * whole - 1, whole), (1, whole)) if sign[0] == ">" else ((1, whole), (2 * whole - 1, whole))
        extra = scale(self.last_length, first[0] - first[1], first[1])
        self.fill_t += extra
        self.items[-1] = (DUR, self.items[-1][1] + extra)
        self.last_length = 0
        self.broken_next = second
        self._check_overflow()
        return True

    def bar_line(self, kind: str, text_position: int, characters: int, digit_follows: bool = False) -> None:
        """A bar line of `kind` (repeats.py), written at `text_position` in `characters` characters."""
        if self.bar_t is not None and self.fill_t > self.bar_t and kind == PLAIN and self.written == 0:
            self.problems.append(f"the first bar has {whole_notes(self.fill_t)} of a whole note, over the meter's "
                                 f"{whole_notes(self.bar_t)}")
        self.bar_text[len(self.items)] = (text_position, characters, digit_follows)
        self.items.append((BAR, kind))
        self.written += 1
        self.repeats.run(self.items)
        # What the written bar leaves for the next one (the simulation may differ after a repeat).
        if kind == PLAIN or self.bar_t is None or self.fill_t >= self.bar_t or self.fill_t == 0:
            self.carry_t = 0
        else:
            self.carry_t = self.fill_t
        self.fill_t = self.carry_t
        self.overflowed = False

    def ending(self, number: int) -> None:
        """[1 / [2: the second ending is played after the bar before the first one."""
        self.items.append((ENDING, number))
        self.repeats.run(self.items)
        if number == 1:
            self.carry_before_ending = self.carry_t if self.fill_t == self.carry_t else self.fill_t
        elif self.fill_t == self.carry_t:
            self.carry_t = self.fill_t = self.carry_before_ending

    def malformed(self, text: str) -> None:
        """`text` here is ABC abc2midi cannot read."""
        self.problems.append(f"bar {self.written}: {text!r} here is no ABC abc2midi reads "
                             "(a decoration or accidental with no note, a stray length or octave mark, "
                             "or a chord left open)")

    def finish(self) -> List[str]:
        """The end of the music: the errors abc2midi reports only there."""
        return self.repeats.finish(self.items)

    def _check_overflow(self) -> None:
        """Flag the first note that takes the bar past the meter's length."""
        if self.bar_t is not None and self.fill_t > self.bar_t and not self.overflowed:
            self.overflowed = True
            self.problems.append(f"bar {self.written}: a note overflows the bar ({whole_notes(self.fill_t)} of "
                                 f"a whole note, the meter has {whole_notes(self.bar_t)})")

    def written_bars(self) -> List[Tuple[int, str, Optional[int], Optional[int]]]:
        """The bars written so far, repeats not played: (length, the kind of the bar line that closes it,
        its ending number or None, the meter's bar length), in ticks; the bar being written comes last,
        closed by '', when it has a note. A bar line with no note before it adds no bar: a kind other
        than '|' goes to the bar before. Read on from the bars closed at the last call."""
        read, closed, ending, meter = self.closed
        bars, fill = list(closed), 0
        for i in range(read, len(self.items)):
            kind, value = self.items[i]
            if kind == DUR:
                fill += value
            elif kind == METER:
                meter = value
            elif kind == ENDING:
                ending = value
            else:
                if fill:
                    bars.append((fill, value, ending, meter))
                elif bars and value != PLAIN:
                    bars[-1] = (bars[-1][0], value) + bars[-1][2:]
                ending, fill = (ending if value == PLAIN else None), 0
                self.closed = (i + 1, tuple(bars), ending, meter)  # (a bar line's item never changes again)
        if fill:
            bars.append((fill, "", ending, meter))
        return bars

    # -- what is wrong ---------------------------------------------------------------------------
    @property
    def ok(self) -> bool:
        """True while no bar is wrong, no note overflowed and abc2midi would report no repeat error."""
        return not self.problems and self.repeats.ok

    @property
    def warnings(self) -> List[Tuple[int, Fraction, Fraction, int]]:
        """The wrong bars abc2midi would report: (bar number, its length, the meter's, pass), in whole notes."""
        return [(bar, whole_notes(length), whole_notes(meter), pass_)
                for bar, length, meter, pass_ in self.repeats.warnings]

    @property
    def violations(self) -> List[str]:
        """What is wrong so far: overflowing notes, wrong bars (abc2midi's warnings), repeat errors."""
        return (self.problems + [describe(warning) for warning in self.warnings]
                + [f"repeat signs: {message}" for message in self.repeats.sampling_errors])

    def repeat_fixes(self, body_start: int) -> List[Tuple[int, int, str]]:
        """Text edits (position, characters replaced, new text) that write out abc2midi's repeat
        fix-ups; `body_start` is the text position of the music's first character."""
        repeats = self.repeats
        if not any(fixable for _, _, fixable in repeats.fix_errors):
            return []
        edits = []
        for item, kind in repeats.patches.items():
            if item == START_POINT:
                edits.append((body_start, 0, "|:"))
                continue
            position, characters, digit_follows = self.bar_text[item]
            new = "::" if kind == BOTH else "|:"
            if digit_follows:
                new += "["  # ':|2' written out: '::[2' ('::2' is no ABC)
            edits.append((position, characters, new))
        return sorted(edits)


def describe(warning: Tuple[int, Fraction, Fraction, int]) -> str:
    """One line for a wrong bar abc2midi would report."""
    bar, length, expected, pass_ = warning
    return (f"bar {bar} has {length} of a whole note, the meter {expected}"
            + (" (when the repeat plays it)" if pass_ == 2 else ""))
