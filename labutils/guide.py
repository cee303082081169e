"""One row of `generate_tunes`: the tune it is writing, where the tune ends, and the bar guide.

`TuneRow.accept(char)` reads one sampled character and says what the sampler must do:
keep it, roll the row back to the start of its bar (a bar of the wrong length or a note
that overflows its bar: labutils.music.rhythm finds both), or take the tune (it ended).
After `MAX_RETRIES` rolls back in one bar the row writes a fallback bar instead: one note
that fills exactly what the bar still needs, then a bar line. No torch here: the sampler
keeps the LSTM states, this keeps the text.
"""
from __future__ import annotations

import re
from fractions import Fraction
from typing import List, Optional

from labutils.music.rhythm import RhythmState, apply_repeat_fixes

MAX_RETRIES = 8  # resampled attempts at one bar before the fallback bar
_HEADER_LINE = re.compile(r"^[A-Za-z]:")

KEEP, ROLL_BACK, TUNE_DONE, TUNE_RESTART = "keep", "roll back", "done", "restart"


class TuneEnd:
    """Where a tune ends, as extract_song_snippet sees it: the first blank line after its music,
    or a new "X:" line."""

    def __init__(self):
        self.line, self.seen_key, self.seen_music, self.lines = "", False, False, 0

    def feed(self, char: str) -> Optional[str]:
        """'blank' when char ends the tune with a blank line, 'new tune' at a new "X:" line, else None."""
        if char != "\n":
            self.line += char
            if self.lines and self.line == "X:":
                return "new tune"
            return None
        line, self.line = self.line, ""
        self.lines += 1
        if self.seen_music and line.strip() == "":
            return "blank"
        if self.seen_key and line.strip() and not _HEADER_LINE.match(line):
            self.seen_music = True
        if line.startswith("K:"):
            self.seen_key = True
        return None


def fallback_bar(rhythm: RhythmState, text: str) -> Optional[str]:
    """Characters that end the current bar well from a checkpoint: one note of the missing length + '|'."""
    letters = re.findall(r"[A-Ga-g]", text[-200:])
    candidates = [letters[-1]] if letters else []
    candidates += ["B", "z"]
    needed = (rhythm.bar_length or Fraction(1)) - rhythm.carry
    unit = rhythm.unit or Fraction(1, 8)
    units = needed / unit
    length = "" if units == 1 else (str(units.numerator) if units.denominator == 1
                                      else f"{units.numerator}/{units.denominator}")
    for letter in candidates:
        for bar in (f"{letter}{length}| ", f" {letter}{length}| "):
            if rhythm.allows(bar):
                return bar
    return None


class TuneRow:
    """The text one batch row is writing, with its rhythm state and last bar checkpoint."""

    def __init__(self, guided: bool, max_chars: int, start: str = "X"):
        self.guided, self.max_chars = guided, max_chars
        self.restart(start)

    def restart(self, start: str = "X") -> None:
        """Begin a new tune whose text so far is `start`."""
        self.text = ""
        self.end = TuneEnd()
        self.rhythm = RhythmState()
        self.checkpoint = None  # (text length, rhythm copy) just after the last accepted bar line
        self.retries = 0
        self.forced: List[str] = []
        self.fallbacks = 0
        self.steps = 0  # characters read for this tune, rolled back ones included
        self.ended_by = None
        self.new_checkpoint = False
        for char in start:
            self._read(char)

    def _read(self, char: str) -> Optional[str]:
        self.text += char
        if self.guided:
            self.rhythm.feed(char)
        return self.end.feed(char)

    def accept(self, char: str) -> str:
        """Read a sampled character: KEEP, ROLL_BACK, TUNE_DONE or TUNE_RESTART (over max_chars)."""
        self.new_checkpoint = False
        before = self.rhythm.copy() if self.guided and self.rhythm.pending_bar else None
        bars, broken = self.rhythm.bars_written, len(self.rhythm.violations)
        ended = self._read(char)
        self.steps += 1
        if ended is not None:
            self.ended_by = ended
            return TUNE_DONE
        if len(self.text) >= self.max_chars or self.steps > 4 * self.max_chars:
            return TUNE_RESTART
        if not self.guided or self.rhythm.where != "body":
            return KEEP
        if len(self.rhythm.violations) > broken:
            return ROLL_BACK
        if self.rhythm.bars_written > bars and before is not None:
            self.checkpoint = (len(self.text) - 1, before)
            self.retries, self.new_checkpoint = 0, True
        return KEEP

    def roll_back(self) -> bool:
        """Go back to the last checkpoint; True when the sampler restores the row's model state there
        too, False when no checkpoint exists (the row restarts its tune)."""
        if self.checkpoint is None:
            return False
        length, rhythm = self.checkpoint
        self.text, self.rhythm = self.text[:length], rhythm.copy()
        self.end = TuneEnd()
        for char in self.text:  # cheap: a tune is a few hundred characters
            self.end.feed(char)
        self.retries += 1
        if self.retries > MAX_RETRIES:
            bar = fallback_bar(self.rhythm, self.text)
            if bar is None:
                return False
            self.forced = list(bar)
            self.fallbacks += 1
            self.retries = 0
        return True

    def tune(self) -> str:
        """The finished tune: its text without the blank line, repeat signs abc2midi needs written out."""
        text = self.text[:-2] if self.ended_by == "new tune" else self.text
        if self.guided:
            text = apply_repeat_fixes(text, self.rhythm.repeat_fixes)
            # A '::' as the tune's last bar line starts a repeat that never comes (abc2midi: an error).
            text = re.sub(r"::(?=[!\s]*$)", ":|", text.rstrip())
        return text.strip()
