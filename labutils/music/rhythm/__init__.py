"""ABC rhythm, exact and incremental: how full the current bar is, and which bars abc2midi flags.

    state = RhythmState()
    state.feed("X:1\\nM:6/8\\nL:1/8\\nK:G\\nD|GED DED|")
    state.where, state.bar_fill, state.bar_length   # 'body', Fraction(0, 1), Fraction(3, 4)
    state.allows("|"), state.ok, state.violations   # would a bar line now break a bar? any broken?
    copy = state.copy()                             # cheap: a sampler keeps one per row

Lengths are `fractions.Fraction`s of a whole note (ticks inside). Which bars are wrong is
abc2midi's rule, reproduced here (compared with abc2midi on the training tunes in
tests/test_rhythm.py): abc2midi plays the tune with its repeats and endings, adding up note
lengths; a plain bar line `|` checks the bar, any other bar line (`||`, `|]`, `[|`, `|:`, `:|`,
`::`) checks it only when it is full or over, else the length carries on into the next bar. So a
section's last bar joins the pickup that follows it, in both passes of a repeat (back to the
tune's start, or the last |:, :: or :|); the tune's first bar (a pickup) is checked only when a
repeat plays it again. `warnings` are what abc2midi would report; `violations` adds what a
sampler must also refuse: a note that overflows its bar, ABC that abc2midi cannot read.

The files, each using only those below it:
    state.py     RhythmState: the reader with what a sampler asks (bar_fill, allows, ok, ...);
                 whole-tune helpers (tune_warnings, bad_bar_count, repeat_errors)
    reader.py    AbcReader: the character state machine (header, spans, notes, chords, bar lines)
    bars.py      Bars: note lengths added into bars, bar lines, endings, meters, what overflows
    repeats.py   RepeatSimulator: abc2midi's repeat fix-ups and playback of repeats and endings
    notation.py  ABC as abc2midi reads it: characters, meters, keys, chord names, note lengths
"""
from labutils import submodule_loader
from labutils.music.rhythm.notation import (
           ACCIDENTALS,
           NOTE_LETTERS,
           REST_LETTERS,
           default_unit,
           key_value_ok,
           meter_length,
)
from labutils.music.rhythm.state import RhythmState, apply_repeat_fixes, bad_bar_count, repeat_errors, tune_warnings

__all__ = ["ACCIDENTALS", "NOTE_LETTERS", "REST_LETTERS", "RhythmState", "apply_repeat_fixes", "bad_bar_count",
           "default_unit", "key_value_ok", "meter_length", "repeat_errors", "tune_warnings"]

MODULES = ("bars", "notation", "reader", "repeats", "state")
__getattr__, __dir__ = submodule_loader(__name__, MODULES)
