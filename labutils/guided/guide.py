"""The bar guide: one row of `generate_tunes`, the tune it is writing, and where the tune ends.

`TuneRow.accept(char)` reads one sampled character and tells the sampler what to do:

- KEEP: written.
- REJECT: not written (it would break the bar: a note in a full bar, a '::' or an ending abc2midi
  would reject; or the form, below); the row is unchanged, and the sampler draws again from the
  same logits with that character (and `refused`, when the same reason refuses more) masked
  out: no extra model call.
- UNDO: not written, and it shows that the character before it broke the bar (a bar line at the
  wrong length, a note that overflows); the sampler calls `undo_last()` and draws that position
  again from the previous step's logits with the old character masked (one model call lost).
- ROLL_BACK: masking cannot help; the sampler calls `roll_back()`, back to the bar's start (its
  LSTM state too): its roll-back point, kept just before the last bar line's last character.
  After `MAX_RETRIES` roll backs in one bar the row writes a fallback bar
  instead: one note that fills exactly what the bar still needs, then a bar line.
- NOTE_AGAIN: the part would close on a last note its cadence does not allow; the sampler calls
  `take_back_note()`, back to where the bar's last note began, and draws that character again
  from the probabilities it was drawn from (it keeps them, and the LSTM state, for each row's
  last note) with only `note_letters` allowed: NOTE_TRIES times in a bar, then roll backs.
- TUNE_DONE / TUNE_RESTART: the tune ended / ran past max_chars, or went round in circles.

Every check of the bars is labutils.music.rhythm's exact model of what abc2midi plays, so a
guided tune has no bar of the wrong length and no repeat error; `tune()` writes out the repeat
signs abc2midi would otherwise have to assume. The form is parts.py's, asked where a character
would close a part or end the tune:
- a ':' that no repeat sign fits (its bar is short, or too long for the pickup the repeat plays
  again) rolls the bar back, no longer than the repeat needs where the part may close there;
  then a short bar goes on with its bar line masked, a full one with a plain '|';
- a part that may not close here (phrases) goes on: its closing bar line is masked; the bar line
  after a part's 16th bar must close it: all else is masked;
- the tune goes on (its blank line and an "X:" line masked) until it may end;
- wishes, a few tries each: the last note (NOTE_AGAIN); the last bar's length (a roll back with
  `bar_cap`, what its notes may add up to); a repeat for a phrase part played once (its '|' drawn
  again, UNDO, where the model may write ':|').
No torch here: the sampler keeps the LSTM states, this keeps the text.
"""
from __future__ import annotations

import re
from fractions import Fraction
from typing import List, Optional

from labutils.guided.parts import FULL, PHRASE, WISH_TRIES, FormRules
from labutils.music.rhythm import ACCIDENTALS, NOTE_LETTERS, REST_LETTERS, RhythmState, apply_repeat_fixes, key_value_ok

MAX_RETRIES = 8  # resampled attempts at one bar before the fallback bar
MAX_MASKED = 6  # draws from one step's logits with the refused characters masked, then a roll back
MAX_UNDOS = 8  # one-character undos in one bar, then roll backs
STUCK_STEPS = (3, 300)  # a tune offered more than 3 characters per character written, + 300, is dropped
REPEAT_TRIES = 1  # roll backs of a bar whose ':' no repeat sign fits, then the bar goes on
NOTE_TRIES = 2  # a part's last note drawn again for its cadence, in one bar, then roll backs
_HEADER_LINE = re.compile(r"^[A-Za-z]:")
_STARTS_A_NOTE = NOTE_LETTERS | REST_LETTERS | ACCIDENTALS
_LENGTH_CHARS = set("0123456789/',")
_NOT_CLOSING = "\n" + "".join(chr(c) for c in range(32, 127) if chr(c) not in "|]")  # all but what makes '|]', '||'
_BODY_FIELDS = "KPTWw"  # fields abc2midi reads in the music (K: values are checked; M:, L:, Q:, I: are not)
_NOT_BAR_LINE = "\n" + "".join(chr(c) for c in range(32, 127) if chr(c) not in "|:")
_CLOSING_KINDS = {":|": ":|", "]": "soft", "|": "soft", ":": "|:"}  # (rhythm.repeats' names of bar line kinds)

KEEP, REJECT, UNDO, ROLL_BACK, TUNE_DONE, TUNE_RESTART = "keep", "reject", "undo", "roll back", "done", "restart"
NOTE_AGAIN = "note again"


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

    def __init__(self, guided: bool, max_chars: int, start: str = "X", cadence: Optional[str] = None):
        self.guided, self.max_chars, self.cadence = guided, max_chars, cadence  # cadence: parts.py's
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
        self.wish_tries = 0  # bars at a part's end resampled for parts.py's wishes (not in retries)
        self.wishing = False  # the next roll back is for a wish
        self.end_verdict = (None, False)  # (text, whether the tune may end after it): FormRules.may_end's last answer
        self.rules: Optional[FormRules] = None  # parts.py's, once the header is read
        self.note_point: Optional[int] = None  # text position of the last note begun (the sampler keeps its state)
        self.new_note_point = False  # the last accepted character began a note
        self.note_tries = 0  # NOTE_AGAIN in this bar
        self.note_letters = ()  # with NOTE_AGAIN: the characters the note may begin with
        self.bar_cap = None  # ticks the bar's notes may add up to (a closing bar parts.py wished shorter), or None
        self.wish_cap = None  # the bar_cap a roll back for a wish sets
        self.repeat_wished = False  # this bar's '|' was drawn again once for a wished repeat
        self.redoing = False  # the last position was taken back and is being drawn again
        self.undoable = False  # set by the sampler: the last character can be drawn again (UNDO)
        self.forced: List[str] = []  # characters the sampler writes next, whatever the model draws
        self.refused = ()  # with REJECT: other characters refused for the same reason (set by accept)
        self.steps = 0  # characters offered for this tune, refused ones included
        self.ended_by = None  # 'blank' or 'new tune' once the tune has ended
        for char in start:
            self._read(char)

    @property
    def in_header(self) -> bool:
        """True while a guided row writes its tune's header (up to the K: line's end)."""
        return self.guided and self.rhythm.where == "header"

    def _read(self, char: str) -> Optional[str]:
        """Write char unchecked; how it ends the tune ('blank', 'new tune') or None."""
        self.text += char
        if self.guided:
            self.rhythm.feed(char)
        return self.end.feed(char)

    def accept(self, char: str) -> str:
        """Read a sampled character: KEEP, REJECT, UNDO, ROLL_BACK, NOTE_AGAIN, TUNE_DONE or TUNE_RESTART
        (see the module)."""
        self.new_rollback_point = self.new_note_point = False
        self.refused = ()  # with REJECT: other characters refused here for the same reason
        self.steps += 1
        if not self.guided:
            return self._written(self._read(char))
        if self.text == "X" and char != ":":
            char = ":"  # a tune's first line is X:<number>
        if self.rhythm.where != "body":
            verdict = self._check_header(char)
            return verdict or self._written(self._read(char))
        if self.bar_cap is not None and char not in "|:" and self._at_cap():
            self.refused = _NOT_BAR_LINE  # the closing bar is as long as parts.py wishes: its bar line now
            return REJECT
        if self._ends_too_soon(char):
            self.refused = ("\n", "X")  # a blank line or an "X:" line: the tune goes on
            return REJECT
        return self._accept_music(char)

    def _accept_music(self, char: str) -> str:
        """accept() for a character of the music."""
        rhythm = self.rhythm
        closing = self._closing(char) if char in ":|]" else None
        begins_note = char in _STARTS_A_NOTE and self._begins_note(char)
        bar_was_full = closing is not None and rhythm.bar_is_full
        verdict, before = self._check(char)
        if verdict is None and closing is not None:
            verdict = self._part_end_verdict(closing, char, bar_was_full)
        elif verdict is None and before is not None:
            verdict = self._plain_bar_line_verdict()
        if verdict is not None:
            if verdict not in (ROLL_BACK, NOTE_AGAIN):
                self._rebuild()
            return verdict
        self.text += char
        if before is not None and not self.redoing:  # a bar line ended well: the bar's start for roll backs
            if self.rollback_point is None or self.rollback_point[0] != len(self.text) - 1:  # (not the same again)
                self.retries, self.wish_tries, self.note_tries, self.bar_cap = 0, 0, 0, None
                self.repeat_wished = False
            self.rollback_point = (len(self.text) - 1, before)  # (the sampler saves the model state there)
            self.undos, self.new_rollback_point = 0, True
        if begins_note and not self.redoing:
            self.note_point, self.new_note_point = len(self.text) - 1, True
        self.redoing = False
        ended = self.end.feed(char)
        if ended is not None and not self.rhythm.copy().finish().ok:  # e.g. an ending never closed
            self.text = self.text[:-1]
            self._rebuild()
            self._reread_end()
            return REJECT
        return self._written(ended)

    def _at_cap(self) -> bool:
        """True when the notes of the bar being written add up to bar_cap, between symbols."""
        rhythm = self.rhythm
        return rhythm.where == "body" and rhythm.between_symbols and rhythm.fill_ticks() >= self.bar_cap

    def _begins_note(self, char: str) -> bool:
        """True when char begins a note or rest outside a chord (its letter, or an accidental before it)."""
        rhythm = self.rhythm
        return (char in _STARTS_A_NOTE and rhythm.mode is None and rhythm.pending_bar != "["
                and rhythm.prefix is None and not rhythm.in_chord and rhythm.chord_suffix is None)

    def _written(self, ended: Optional[str]) -> str:
        """The verdict on a character written: TUNE_DONE, TUNE_RESTART (too long) or KEEP."""
        if ended is not None:
            self.ended_by = ended
            return TUNE_DONE
        per_char, slack = STUCK_STEPS
        if len(self.text) >= self.max_chars or self.steps > min(4 * self.max_chars, per_char * len(self.text) + slack):
            return TUNE_RESTART  # (the second: a row going round in circles, its guide refusing all it draws)
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

    def _form_rules(self) -> FormRules:
        """The tune's FormRules (parts.py), made from its header once the music has begun."""
        if self.rules is None:
            self.rules = FormRules(self.text[:self.rhythm.body_start], self.cadence)
        return self.rules

    def _ends_too_soon(self, char: str) -> bool:
        """True when char would end the tune (a blank line, or an X: line's first letter) before
        FormRules.may_end allows it."""
        end = self.end
        if char not in "\nX" or not end.seen_music or end.line.strip() or (char == "X" and end.line):
            return False
        if self.end_verdict[0] != self.text:
            self.end_verdict = (self.text, self._form_rules().may_end(self.rhythm))
        return not self.end_verdict[1]

    def _closing(self, char: str) -> Optional[str]:
        """When char makes a bar line that may close a part, its characters (':|' for the ':' that starts
        ':|' or '::'; the '|]', '||', '[|' or '|:' that char completes, by its last character); else None."""
        rhythm = self.rhythm
        if char == ":" and rhythm.between_symbols and not rhythm.in_chord:
            return ":|"
        if (rhythm.pending_bar == "|" and char in "|]:") or (rhythm.pending_bar == "[" and char == "|"):
            return char  # ('|:' closes a part that holds a full bar: FormRules.part_end asks)
        return None

    def _part_end_verdict(self, closing: str, char: str, bar_was_full: bool) -> Optional[str]:
        """None when the part may close here (FormRules.part_end); else REJECT (a full bar: the part goes on
        with another bar line), ROLL_BACK (the bar again: a short bar, or a wish) or NOTE_AGAIN (a wish)."""
        start = self.rollback_point[0] if self.rollback_point is not None else self.rhythm.body_start
        bar_text = self.text[start:] + (closing if closing == ":|" else char)
        end = self._form_rules().part_end(self.rhythm, _CLOSING_KINDS[closing], bar_text)
        if not end.whole and end.whole_once:  # too long to repeat: it may close with '|]' or '||' instead
            self.refused = (":",)
            return REJECT
        if (closing != ":|" and end.whole_repeated and not self.repeat_wished and self.text.endswith("|")
                and self.undoable and self.undos < MAX_UNDOS):
            self.repeat_wished = True  # once a bar: a phrase part that may repeat (and, played once, may not
            return UNDO  # close here) draws its '|' again; the model may write ':|' there (AABB, as parts.py wishes)
        if not end.whole:
            self.refused = (":",) if closing == ":|" else ("|", "]", ":")
            if not bar_was_full:  # a short bar cannot close the part here: it goes on (no bar line yet)
                self.refused = ("|", ":", "]")
            return REJECT
        if (end.closes and end.wanted is None) or self.wish_tries >= WISH_TRIES or self.rollback_point is None:
            return None
        if end.wanted is None and self.note_tries < NOTE_TRIES and (self.note_point or -1) >= start:
            self.note_tries += 1  # only the last note is wished otherwise
            self.note_letters = self._form_rules().cadence_letters()
            return NOTE_AGAIN
        self.wishing = True  # the bar again, no longer than the pickup leaves when it was too long
        self.wish_cap = end.wanted if end.wanted is not None and end.wanted < end.length else None
        return ROLL_BACK

    def _plain_bar_line_verdict(self) -> Optional[str]:
        """After a plain '|' is read: REJECT after the 16th bar of a part (only '|]' or '||' may close it),
        UNDO once after the 8th of a phrase part not repeated (the model may write ':|' there), else None."""
        mark = self._form_rules().plain_bar_line(self.rhythm)
        if mark == FULL:
            self.refused = _NOT_CLOSING
            return REJECT
        if mark == PHRASE and self.undoable and not self.repeat_wished and self.undos < MAX_UNDOS:
            self.repeat_wished = True
            return UNDO
        return None

    def _refused_repeat(self) -> str:
        """The verdict on a ':' that no repeat sign fits (the bar is short, or too long for the pickup the
        repeat plays again): the bar again, REPEAT_TRIES times, no longer than the repeat needs where the
        part may close there; then a short bar goes on (no bar line yet), a full one gets a '|'."""
        rhythm = self.rhythm
        short = rhythm.bar_fill > rhythm.carry and not rhythm.bar_is_full
        if self.rollback_point is not None and self.retries + self.wish_tries < REPEAT_TRIES:
            length = self._form_rules().repeat_length(rhythm)
            if length is not None or short:  # (before, the next best draw was often '|]': a one-part tune)
                self.wishing, self.wish_cap = length is not None, length
                return ROLL_BACK
        self.refused = ("|", ":", "]") if short else (":",)
        return REJECT

    def _check(self, char: str):
        """(None, the rhythm before char or None) when char keeps the tune right (the rhythm has read it;
        the state before comes with a bar line that char ended well), else (REJECT / UNDO / ROLL_BACK,
        None) with the rhythm as it was."""
        rhythm = self.rhythm
        pending = rhythm.pending_bar
        key = rhythm.key_being_read  # a key change in the music
        if key is not None and not (key_value_ok(key) if char == "\n" else key_value_ok(key + char, complete=False)):
            return REJECT, None
        if char == ":" and rhythm.mode == "maybe_field" and rhythm.mode_text not in _BODY_FIELDS:
            return REJECT, None  # abc2midi: "Field not allowed in tune body" (or a value it may not read)
        if rhythm.between_symbols:
            if char == ":" and not (rhythm.allows(":|") or rhythm.allows("::")):  # no repeat sign fits here
                return self._refused_repeat(), None
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
        if rhythm.ok and (self.bar_cap is None or rhythm.bars_written > bars or rhythm.fill_ticks() <= self.bar_cap):
            return None, (before if rhythm.bars_written > bars else None)
        if rhythm.ok:  # over bar_cap: a note too long for the closing bar parts.py wishes for
            self._rebuild()
            self.refused = _STARTS_A_NOTE if char in _STARTS_A_NOTE else ()
            return REJECT, None
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

    def take_back_note(self) -> tuple:
        """Take back the bar's last note (from its first character on) after NOTE_AGAIN: the sampler draws
        its first character again from that step's probabilities; returns the characters allowed."""
        self.text = self.text[:self.note_point]
        self._rebuild()
        self._reread_end()
        if self.bar_cap is not None and self.rhythm.fill_ticks() >= self.bar_cap:
            self.bar_cap = None  # no room left for a shorter last note
        self.undos, self.redoing = 0, False
        return self.note_letters

    def roll_back(self) -> bool:
        """Go back to the roll-back point; True when the sampler restores the row's model state there
        too, False when there is none (the row restarts its tune)."""
        if self.rollback_point is None:
            return False
        length, rhythm = self.rollback_point
        self.text, self.rhythm = self.text[:length], rhythm.copy()
        self._reread_end()
        self.note_point, self.bar_cap = None, (self.wish_cap if self.wishing else None)
        if self.wishing:
            self.wish_tries, self.wishing = self.wish_tries + 1, False
        else:
            self.retries += 1
        self.undos, self.redoing = 0, False
        if self.retries > MAX_RETRIES:
            bar = fallback_bar(self.rhythm, self.text)
            if bar is None:
                return False
            self.forced = list(bar)
            self.retries, self.bar_cap = 0, None
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
