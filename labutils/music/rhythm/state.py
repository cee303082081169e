"""RhythmState: the reader (reader.py) with what a sampler or a check asks of it.

    state = RhythmState().feed(tune_so_far)
    state.bar_fill, state.bar_length, state.carry   # how full the bar is, in whole notes
    state.allows("|"), state.ok, state.violations   # would a bar line now break a bar? any broken?

Whole tunes: `tune_warnings` (abc2midi's wrong bars), `bad_bar_count`, `repeat_errors`, and
`apply_repeat_fixes` to write out the repeat signs abc2midi would assume.
"""
from __future__ import annotations

from fractions import Fraction
from typing import List, Optional, Tuple

from labutils.music.rhythm.notation import EIGHTH, note_ticks, whole_notes
from labutils.music.rhythm.reader import AbcReader


class RhythmState(AbcReader):
    """Where a tune stands after the characters fed so far: `feed`, `finish` and `copy` read it
    (AbcReader), the rest asks about it."""

    def allows(self, text: str) -> bool:
        """Would `text`, then a space, keep every bar right? The state itself is unchanged.

        The space ends an open note or bar line (a bar line is read when the character after it
        arrives: `|` may still become `||`, `|]`, `|:` or `|1`), so `allows("|")` asks about a plain
        bar line now.
        """
        trial = self.copy()
        trial.feed(text + " ")
        return trial.ok

    @property
    def ok(self) -> bool:
        """True while no bar is wrong, no note overflowed and abc2midi would report no repeat error."""
        return self.bars.ok

    @property
    def violations(self) -> List[str]:
        """What is wrong so far: overflowing notes, wrong bars (abc2midi's warnings), repeat errors."""
        return self.bars.violations

    @property
    def warnings(self) -> List[Tuple[int, Fraction, Fraction, int]]:
        """The wrong bars abc2midi would report: (bar number, its length, the meter's, pass), in whole notes."""
        return self.bars.warnings

    def repeat_fixes(self) -> List[Tuple[int, int, str]]:
        """Text edits (position, characters replaced, new text) that write out abc2midi's repeat fix-ups.

        Empty unless abc2midi would report a fix-up as an error (a first ending or a '::' with no open
        repeat, a second '|:'): written out, the same repeats play with no error. See RepeatSimulator.
        """
        return self.bars.repeat_fixes(self.body_start)

    def written_bars(self) -> List[Tuple[int, str, Optional[int], Optional[int]]]:
        """The bars read so far as written, repeats not played (Bars.written_bars): (length, the kind of the
        bar line that closes it, its ending number or None, the meter's bar length), lengths in ticks."""
        return self.bars.written_bars()

    # -- where the music stands ------------------------------------------------------------------
    @property
    def bar_length(self) -> Optional[Fraction]:
        """The meter's bar length in whole notes (None for a free meter)."""
        return whole_notes(self.bars.bar_t)

    @property
    def unit(self) -> Optional[Fraction]:
        """The unit note length (L:) in whole notes, once the header has set it."""
        return whole_notes(self.unit_t)

    @property
    def carry(self) -> Fraction:
        """What the last section's end carried into the current bar, in whole notes."""
        return whole_notes(self.bars.carry_t)

    @property
    def bars_written(self) -> int:
        """Bar lines read so far."""
        return self.bars.written

    @property
    def bar_fill(self) -> Fraction:
        """Length of the current bar so far, with what a section's end carried into it."""
        return whole_notes(self.fill_ticks())

    def fill_ticks(self):
        """bar_fill in ticks."""
        if self.note is None or self.note[1]:
            return self.bars.fill_t
        return self.bars.fill_t + (note_ticks(self.note[0], self.unit_t) or self.unit_t or EIGHTH)

    @property
    def bar_is_full(self) -> bool:
        """True when the bar already holds the meter's length: any further note would overflow it."""
        return self.bars.bar_t is not None and self.fill_ticks() >= self.bars.bar_t

    @property
    def in_note(self) -> bool:
        """True while a note's length may still grow (its letter or length digits were the last)."""
        return self.note is not None

    @property
    def between_symbols(self) -> bool:
        """True unless a bar line or a span (a field, comment, quote, grace notes, !decoration!,
        tuplet or broken-rhythm sign) is half read; a note may be open."""
        return not self.pending_bar and self.mode is None

    @property
    def symbol_open(self) -> bool:
        """True when the next character may end what is open (a bar line, a note or chord whose length
        may still grow, a tuplet or broken-rhythm sign), and so show a fault in it."""
        return (bool(self.pending_bar) or self.note is not None or self.chord_suffix is not None
                or self.mode in ("broken", "tuplet"))

    @property
    def key_being_read(self) -> Optional[str]:
        """What follows "K:" on a key line in the music being read; None when not on one."""
        if self.mode == "field" and self.mode_text.startswith("K:"):
            return self.mode_text[2:]
        return None



def apply_repeat_fixes(text: str, edits: List[Tuple[int, int, str]]) -> str:
    """Apply RhythmState.repeat_fixes() edits to the text that state read."""
    for position, characters, new in sorted(edits, reverse=True):
        text = text[:position] + new + text[position + characters:]
    return text


def repeat_errors(tune: str) -> List[str]:
    """The repeat-sign errors abc2midi would report for a whole tune (the RepeatSimulator's reading)."""
    state = RhythmState().feed(tune.rstrip("\n") + "\n").finish()
    return state.bars.repeats.reported_errors + state.end_errors


def tune_warnings(tune: str) -> List[Tuple[int, Fraction, Fraction, int]]:
    """abc2midi's wrong bars of a whole tune, as the RepeatSimulator plays it."""
    return RhythmState().feed(tune.rstrip("\n") + "\n").finish().warnings


def bad_bar_count(tune: str) -> int:
    """How many bars abc2midi would report with the wrong length (each bar number once)."""
    return len({bar for bar, _, _, _ in tune_warnings(tune)})
