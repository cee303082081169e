"""abc2midi's repeats and endings, simulated over the items of a written tune (abc2midi 4.84).

The reader turns the music into items, in the order they are written: (DUR, ticks) for a note
or chord, (BAR, kind) for a bar line, (ENDING, n) for an ending [n, (METER, ticks) for a meter.
`RepeatSimulator` plays them as abc2midi does, repeats and endings included, and finds the bars
abc2midi reports with the wrong length and the repeat signs it reports as errors.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Dict, List, Optional, Tuple

DUR, BAR, ENDING, METER = "dur", "bar", "ending", "meter"  # item kinds
PLAIN, SOFT, START, END, BOTH = "|", "soft", "|:", ":|", "::"  # bar kinds ('soft': '||', '|]', '[|')
START_POINT = -1  # the '||' abc2midi puts before the music: the first place a repeat can start
_CLOSES_ENDING = (END, START, SOFT)  # bar kinds where a skipped ending stops (and an ending)


class RepeatSimulator:
    """abc2midi's reading of the written items (store.c, then genmidi.c), resumable as items arrive.

    1. Repeat fix-ups (store.c's `fixreps`, once over each item as it is appended). A tune whose
       first repeat sign is ':|' or '::' gets a '|:' before its music. A ':|' with no open repeat
       gets its '|:' at the last '||', '|]' or ':|' (written there as '|:' or '::'; a warning, or an
       error when a first ending or a '::' needs it); a '|:' inside an open repeat becomes '::' (an
       error). `patches` holds each bar abc2midi plays as another kind, `fix_errors` the errors, each
       with whether writing the patches out into the text (`RhythmState.repeat_fixes`) avoids it.
    2. The playback (genmidi.c's `writetrack`): note lengths add up; '|' checks its bar, the other
       bar lines only a full bar or the first; a ':|' goes back to the saved point once (or, after
       endings, twice); an ending not meant for this pass is skipped to the next ':|', '|:', '||',
       '|]' or ending (which is skipped too). `warnings`: (bar number, length, meter, pass), as
       abc2midi numbers them; `errors`: (item, message) abc2midi reports as errors.
    Text not yet ended by a bar line is not checked; a patch to a bar already played plays the
    items again from the start.
    """

    def __init__(self, insert_start: bool = True):
        self.insert_start = insert_start  # assumed until the first repeat sign says
        self.fixed = 0  # items the fix-ups have read
        self.first_sign = None
        self.f_expect, self.rep_point, self.nplays, self.endings_before_sign = insert_start, START_POINT, 0, 0
        self.patches: Dict[int, str] = {}
        self.fix_errors: List[Tuple[int, str, bool]] = []
        self.matched: Dict[int, bool] = {}  # ':|' item -> it has a start once the patches are written out
        self.stale = False
        self._start_playing()

    def _start_playing(self) -> None:
        """The playback's state at the start of the music."""
        self.pos = 0  # the next item to play
        self.track, self.bar_length = 0, None  # ticks played in the current bar; the meter's bar, in ticks
        self.bar_num = 0  # abc2midi's bar number (a bar is numbered once it has notes)
        self.pass_, self.maxpass = 1, 2  # which time the open repeat is playing; how many times it plays
        self.in_varend = False  # inside an ending that is being played
        self.expect = self.insert_start or START_POINT in self.patches  # a repeat is open
        self.saved = (0, 0)  # (item to go back to, bar number there)
        self.opener = START_POINT if self.expect else None  # where the open repeat began
        self.read_to = 0  # items played at least once
        self.warnings: List[Tuple[int, Fraction, Fraction, int]] = []
        self.errors: List[Tuple[int, str]] = []

    def copy(self) -> RepeatSimulator:
        """An independent copy."""
        new = RepeatSimulator.__new__(RepeatSimulator)
        new.__dict__.update(self.__dict__)
        new.patches, new.matched = dict(self.patches), dict(self.matched)
        new.fix_errors, new.warnings, new.errors = list(self.fix_errors), list(self.warnings), list(self.errors)
        return new

    # -- 1. the fix-ups ---------------------------------------------------------------------------
    def _fix(self, items: List[Tuple]) -> None:
        """Read the items appended since the last call as store.c's fixreps does."""
        while self.fixed < len(items):
            i = self.fixed
            kind, value = items[i]
            self.fixed += 1
            if kind == ENDING:
                if self.first_sign is None:
                    self.endings_before_sign += 1
                if self.nplays == 0 and not self.f_expect:
                    self._place_start(i, items, "found [1 or like before |:")
                self.nplays += 1
                continue
            if kind != BAR:
                continue
            if self.first_sign is None and value in (START, END, BOTH):
                self.first_sign = value
                if (value != START) != self.insert_start:  # the assumption was wrong
                    if self.endings_before_sign:
                        self.__init__(insert_start=value != START)
                        self.first_sign = value
                        self._fix(items)
                        return
                    self.insert_start = self.f_expect = self.expect = value != START
                    self.opener = START_POINT if self.expect else None
            if value == SOFT:
                self.rep_point = i
            elif value == START:
                if self.f_expect:  # abc2midi plays it as '::'
                    self.patches[i] = BOTH
                    self.fix_errors.append((i, "found another |: after a |:", True))
                self.f_expect = True
            elif value == END:
                self.matched[i] = self.f_expect
                if not self.f_expect and self.nplays < 1:
                    self.matched[i] = self._place_start(i, items, None)
                self.f_expect, self.rep_point = False, i
            elif value == BOTH:
                if not self.f_expect:
                    self._place_start(i, items, "found :: before |:")
                self.f_expect = True

    def _place_start(self, at: int, items: List[Tuple], error: Optional[str]) -> bool:
        """A '|:' at the last repeat point (store.c's placestartrep); True when writing it out works."""
        point = self.rep_point
        kind = self.patches.get(point, SOFT if point == START_POINT else items[point][1] if point >= 0 else SOFT)
        if kind in (SOFT, PLAIN):
            self.patches[point], fixable = START, True
        elif kind == END:
            self.patches[point], fixable = BOTH, self.matched.get(point, False)
        else:
            self.fix_errors.append((at, "Too many end repeats", False))
            return False
        if error:
            self.fix_errors.append((at, error, fixable))
        if point < self.read_to or (point == START_POINT and self.read_to > 0):
            self.stale = True
        return fixable

    # -- 2. the playback ----------------------------------------------------------------------------
    def run(self, items: List[Tuple], finished: bool = False) -> None:
        """Play the items appended since the last call (all of them, when a patch made that necessary)."""
        self._fix(items)
        if self.stale:
            self.stale = False
            self._start_playing()
        end = len(items)
        while self.pos < end:
            kind, value = items[self.pos]
            if kind == DUR:
                self.track += value
                self.pos += 1
            elif kind == BAR:
                self.pos = self._bar_line(self.pos, self.patches.get(self.pos, value))
            elif kind == METER:
                self.bar_length = value
                self.pos += 1
            else:
                after = self._ending(items, value, finished)
                if after is None:
                    break  # its end is not written yet: wait here
                self.pos = after
        self.read_to = max(self.read_to, self.pos)

    def _bar_line(self, pos: int, kind: str) -> int:
        """Check the bar a bar line ends, then follow its repeat sign; returns the item to play next."""
        if kind != PLAIN:
            self.in_varend = False
        bar_length, track = self.bar_length, self.track
        if kind == PLAIN or (bar_length is not None and (track >= bar_length or self.bar_num <= 0)):
            if bar_length is not None and track != bar_length and track != 0 and (self.pass_ == 2 or self.bar_num != 0):
                self.warnings.append((self.bar_num, track, bar_length, self.pass_))
            if track > 0:
                self.bar_num += 1
            self.track = 0
        if kind == START:
            if self.pass_ == 1 and self.expect:
                self._error(pos, "Expected end repeat not found at |:")
            self._open_repeat(pos)
            self.maxpass = 2
        elif kind == END:
            if self.pass_ == 1 and not self.expect:
                self._error(pos, "Found unexpected :|")
            elif self.pass_ == 1 or self.pass_ < self.maxpass:
                self.expect, self.pass_ = False, self.pass_ + 1
                return self._go_back(pos)
        elif kind == BOTH:
            if self.pass_ > 1:  # played once already: now it starts the next repeat
                self._open_repeat(pos)
                self.maxpass = 2
            elif not self.expect:
                self._error(pos, "Found unexpected ::")
                self._open_repeat(pos)
            else:
                self.pass_ += 1
                return self._go_back(pos)
        return pos + 1

    def _open_repeat(self, pos: int) -> None:
        """A repeat starts after the bar line at `pos`: its first pass."""
        self.saved, self.expect, self.pass_, self.opener = (pos + 1, self.bar_num), True, 1, pos

    def _go_back(self, pos: int) -> int:
        """The repeat at `pos` plays again from the saved point; returns that item."""
        self.read_to = max(self.read_to, pos + 1)
        back_to, self.bar_num = self.saved
        return back_to

    def _ending(self, items: List[Tuple], number: int, finished: bool) -> Optional[int]:
        """An ending [n: played on its pass, else skipped past the bar line that closes it. Returns
        the item to play next, None while that bar line is not written yet."""
        pos = self.pos
        if self.in_varend:
            self._error(pos, "Need || |: :| or :: to mark end of variant ending")
        passnum = self.pass_
        if not (self.expect or self.pass_ > 1):
            self._error(pos, "multiple endings do not follow |: or ::")
            passnum = 1
        if number == passnum:
            self.in_varend = True
            if self.maxpass < 4:
                self.maxpass = self.pass_ + 1
            return pos + 1
        patches = self.patches
        closing = next((i for i in range(pos + 1, len(items)) if items[i][0] == ENDING
                        or (items[i][0] == BAR and patches.get(i, items[i][1]) in _CLOSES_ENDING)), None)
        if closing is None:
            if finished:
                self._error(pos, "Cannot find :| || [| or |] to close variant ending")
                return len(items)
            return None
        self.bar_num += 1
        self.read_to = max(self.read_to, closing + 1)
        return closing + 1

    def _error(self, at: int, message: str) -> None:
        """An error abc2midi reports at item `at` (once, however often the item is played)."""
        if (at, message) not in self.errors:
            self.errors.append((at, message))

    def finish(self, items: List[Tuple]) -> List[str]:
        """Read the tune's end; return the errors abc2midi reports only there. (Run with -silent, as
        labutils runs it, abc2midi does not report a repeat left open at the end.)"""
        self.run(items, finished=True)
        if self.first_sign is None and self.endings_before_sign and START_POINT not in self.patches:
            # No repeat sign at all: the first ending's error, mended by a '|:' before the music
            # (which is what this playback assumed while it waited for a sign).
            first = next(i for i, item in enumerate(items) if item[0] == ENDING)
            self.patches[START_POINT] = START
            self.fix_errors.append((first, "found [1 or like before |:", True))
        return [message for at, message in self.errors if message.startswith("Cannot find")]

    @property
    def reported_errors(self) -> List[str]:
        """Every repeat-sign error abc2midi reports during the music: the playback's, then the fix-ups'."""
        return [message for _, message in self.errors] + [message for _, message, _ in self.fix_errors]

    @property
    def sampling_errors(self) -> List[str]:
        """Errors a sampler must refuse: the playback's, and the fix-ups' that writing them out does not mend."""
        return [message for _, message in self.errors] + [m for _, m, fixable in self.fix_errors if not fixable]

    @property
    def ok(self) -> bool:
        """True while no bar is wrong and no error stays once the patches are written out."""
        return not self.warnings and not self.errors and all(fixable for _, _, fixable in self.fix_errors)
