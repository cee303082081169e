"""ABC rhythm, exact and incremental: how full the current bar is, and which bars abc2midi flags.

    state = RhythmState()
    state.feed("X:1\\nM:6/8\\nL:1/8\\nK:G\\nD|GED DED|")
    state.where, state.bar_fill, state.bar_length   # 'body', Fraction(0, 1), Fraction(3, 4)
    state.allows("|"), state.ok, state.violations   # would a bar line now break a bar? any broken?
    copy = state.copy()                             # cheap: a sampler keeps one per row

notation.py ABC as abc2midi reads it: characters, meters, keys, chord names, note lengths in ticks
reader.py   RhythmState: reads a tune one character at a time (header, notes, chords, bar lines)
"""
from labutils.music.rhythm.notation import (
           ACCIDENTALS,
           NOTE_LETTERS,
           REST_LETTERS,
           default_unit,
           key_value_ok,
           meter_length,
)
from labutils.music.rhythm.reader import RhythmState, apply_repeat_fixes, bad_bar_count, repeat_errors, tune_warnings

__all__ = ["ACCIDENTALS", "NOTE_LETTERS", "REST_LETTERS", "RhythmState", "apply_repeat_fixes", "bad_bar_count",
           "default_unit", "key_value_ok", "meter_length", "repeat_errors", "tune_warnings"]
