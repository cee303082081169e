"""The bar guide: one row of `generate_tunes`, the tune it is writing, and where the tune ends.

`TuneRow.accept(char)` reads one sampled character and tells the sampler what to do:

- KEEP: written.
- REJECT: not written (it would break the bar: a ':' where no repeat sign fits, a note in a full
  bar, a '::' or an ending abc2midi would reject); the row is unchanged, and the sampler draws
  again from the same logits with that character (and `refused`, when the same reason refuses
  more) masked out: no extra model call.
- UNDO: not written, and it shows that the character before it broke the bar (a bar line at the
  wrong length, a note that overflows); the sampler calls `undo_last()` and draws that position
  again from the previous step's logits with the old character masked (one model call lost).
- ROLL_BACK: masking cannot help; the sampler calls `roll_back()`, back to the bar's start (its
  LSTM state too): its roll-back point, kept just before the last bar line's last character.
  After `MAX_RETRIES` roll backs in one bar the row writes a fallback bar
  instead: one note that fills exactly what the bar still needs, then a bar line.
- TUNE_DONE / TUNE_RESTART: the tune ended / ran past max_chars.

Every check is labutils.music.rhythm's exact model of what abc2midi plays, so a guided tune has
no bar of the wrong length and no repeat error; `tune()` writes out the repeat signs abc2midi
would otherwise have to assume. No torch here: the sampler keeps the LSTM states, this keeps
the text.
"""
from __future__ import annotations

import re
from fractions import Fraction
from typing import List, Optional

from labutils.music.rhythm import ACCIDENTALS, NOTE_LETTERS, REST_LETTERS, RhythmState, apply_repeat_fixes, key_value_ok

MAX_RETRIES = 8  # resampled attempts at one bar before the fallback bar
MAX_MASKED = 6  # draws from one step's logits with the refused characters masked, then a roll back
MAX_UNDOS = 8  # one-character undos in one bar, then roll backs
_HEADER_LINE = re.compile(r"^[A-Za-z]:")
_STARTS_A_NOTE = NOTE_LETTERS | REST_LETTERS | ACCIDENTALS
_LENGTH_CHARS = set("0123456789/',")

KEEP, REJECT, UNDO, ROLL_BACK, TUNE_DONE, TUNE_RESTART = "keep", "reject", "undo", "roll back", "done", "restart"


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
    """Characters that end the current bar well from a roll-back point: one note of the missing length + '|'."""
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
    """The text one batch row is writing, with its rhythm state and the point to roll back to."""

    def __init__(self, guided: bool, max_chars: int, start: str = "X"):
        self.guided, self.max_chars = guided, max_chars
        self.restart(start)

    def restart(self, start: str = "X") -> None:
        """Begin a new tune whose text so far is `start`."""
        self.text = ""
        self.end = TuneEnd()
        self.rhythm = RhythmState()
        self.rollback_point = None  # (text length, rhythm copy) just before the last accepted bar line's last character
        self.new_rollback_point = False  # the last accepted character set a new one (the sampler saves its state)
        self.retries = 0
        self.undos = 0
        self.redoing = False  # the last position was taken back and is being drawn again
        self.forced: List[str] = []  # characters the sampler writes next, whatever the model draws
        self.refused = ()  # with REJECT: other characters refused for the same reason (set by accept)
        self.steps = 0  # characters offered for this tune, refused ones included
        self.ended_by = None  # 'blank' or 'new tune' once the tune has ended
        for char in start:
            self._read(char)

    def _read(self, char: str) -> Optional[str]:
        """Write char unchecked; how it ends the tune ('blank', 'new tune') or None."""
        self.text += char
        if self.guided:
            self.rhythm.feed(char)
        return self.end.feed(char)

    def accept(self, char: str) -> str:
        """Read a sampled character: KEEP, REJECT, UNDO, ROLL_BACK, TUNE_DONE or TUNE_RESTART (see the module)."""
        self.new_rollback_point = False
        self.refused = ()  # with REJECT: other characters refused here for the same reason
        self.steps += 1
        if not self.guided:
            return self._written(self._read(char))
        if self.text == "X" and char != ":":
            char = ":"  # a tune's first line is X:<number>
        rhythm = self.rhythm
        if rhythm.where != "body":
            verdict = self._check_header(char)
            return verdict or self._written(self._read(char))
        verdict, before = self._check(char)
        if verdict is not None:
            return verdict
        self.text += char
        if before is not None and not self.redoing:  # a bar line ended well: the bar's start for roll backs
            self.rollback_point = (len(self.text) - 1, before)  # (the sampler saves the model state there)
            self.retries, self.undos, self.new_rollback_point = 0, 0, True
        self.redoing = False
        ended = self.end.feed(char)
        if ended is not None and not self.rhythm.copy().finish().ok:  # e.g. an ending never closed
            self.text = self.text[:-1]
            self._rebuild()
            self._reread_end()
            return REJECT
        return self._written(ended)

    def _written(self, ended: Optional[str]) -> str:
        """The verdict on a character written: TUNE_DONE, TUNE_RESTART (too long) or KEEP."""
        if ended is not None:
            self.ended_by = ended
            return TUNE_DONE
        if len(self.text) >= self.max_chars or self.steps > 4 * self.max_chars:
            return TUNE_RESTART
        return KEEP

    def _check_header(self, char: str) -> Optional[str]:
        """None when char keeps the header a run of fields ("T:...") ending with a key abc2midi reads."""
        line = self.rhythm.line
        if char == "\n":
            if not line.strip() or (line.startswith("K:") and not key_value_ok(line[2:])):
                return REJECT
        elif len(line) == 1 and char != ":" and line != "%":
            return ROLL_BACK  # music (or nonsense) before the K: line: start the tune again
        elif line.startswith("K:") and not key_value_ok(line[2:] + char, complete=False):
            return REJECT
        elif not line and not (char.isalpha() or char == "%"):
            return REJECT
        return None

    def _check(self, char: str):
        """(None, the rhythm before char or None) when char keeps the tune right (the rhythm has read it;
        the state before comes with a bar line that char ended well), else (REJECT / UNDO / ROLL_BACK,
        None) with the rhythm as it was."""
        rhythm = self.rhythm
        pending = rhythm.pending_bar
        key = rhythm.key_being_read  # a key change in the music
        if key is not None and not (key_value_ok(key) if char == "\n" else key_value_ok(key + char, complete=False)):
            return REJECT, None
        if rhythm.between_symbols:
            if char == ":" and not (rhythm.allows(":|") or rhythm.allows("::")):
                return REJECT, None  # no repeat sign fits here
            if char == "\n" and rhythm.at_line_start and not rhythm.music_lines:
                return REJECT, None  # no blank line between the header and the music
            if char in _STARTS_A_NOTE and not rhythm.at_line_start and not rhythm.in_chord and rhythm.bar_is_full:
                self.refused = _STARTS_A_NOTE
                return REJECT, None  # the bar is full: any note would overflow it
        closes = rhythm.symbol_open  # char ends a bar line or note: it may show the fault
        extends_note = rhythm.in_note and char in _LENGTH_CHARS  # a length or octave mark
        before = rhythm.copy() if pending else None
        bars = rhythm.bars_written
        rhythm.feed(char)
        if rhythm.ok:
            return None, (before if rhythm.bars_written > bars else None)
        self._rebuild()
        if not closes or pending in (":", "["):
            return REJECT, None  # this character itself: '::', an ending, a chord...
        if char.isdigit() and pending in ("|", ":|") and self.rhythm.allows(" "):
            return REJECT, None  # the bar line is fine, its ending number is not
        if pending == ":|":
            return ROLL_BACK, None  # the ':' two characters back: the bar's content is wrong
        if pending == "|" and char in "|]:":
            return REJECT, None
        if extends_note:
            return REJECT, None
        return UNDO, None  # the bar line or note just written is wrong, not what ends it

    def _rebuild(self) -> None:
        """The rhythm state after the text written, read again from the roll-back point."""
        if self.rollback_point is not None and self.rollback_point[0] <= len(self.text):
            length, rhythm = self.rollback_point
            self.rhythm = rhythm.copy().feed(self.text[length:])
        else:
            self.rhythm = RhythmState().feed(self.text)

    def _reread_end(self) -> None:
        """Where the tune ends, read again over the text written (cheap: a tune is a few hundred characters)."""
        self.end = TuneEnd()
        for char in self.text:
            self.end.feed(char)

    def undo_last(self) -> str:
        """Take back the last character written (the sampler draws its position again); returns it."""
        last, self.text = self.text[-1], self.text[:-1]
        self._rebuild()
        if last == "\n":
            self._reread_end()
        else:
            self.end.line = self.end.line[:-1]
        self.undos += 1
        self.redoing = True
        return last

    def roll_back(self) -> bool:
        """Go back to the roll-back point; True when the sampler restores the row's model state there
        too, False when there is none (the row restarts its tune)."""
        if self.rollback_point is None:
            return False
        length, rhythm = self.rollback_point
        self.text, self.rhythm = self.text[:length], rhythm.copy()
        self._reread_end()
        self.retries += 1
        self.undos, self.redoing = 0, False
        if self.retries > MAX_RETRIES:
            bar = fallback_bar(self.rhythm, self.text)
            if bar is None:
                return False
            self.forced = list(bar)
            self.retries = 0
        return True

    def tune(self) -> str:
        """The finished tune without its blank line, with the repeat signs abc2midi would assume
        written out (RhythmState.repeat_fixes)."""
        text = self.text[:-2] if self.ended_by == "new tune" else self.text
        if self.guided:
            fixes = self.rhythm.finish().repeat_fixes()
            if fixes:
                text = apply_repeat_fixes(text, fixes)
        return text.strip()
