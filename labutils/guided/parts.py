"""The form rules of the guide: where a part may close, where a tune may end, how a part closes.

TuneRow (guide.py) asks a tune's `FormRules` where the character offered would close a part (the
':' of ':|' or '::', the second character of '||', '|]' or '[|'), write a plain bar line, or end
the tune (its blank line, or an "X:" line). Bars, parts, pickups and passes are counted with
labutils.music.form's own functions, over the bars the rhythm reader has read (their lengths and
bar lines: `RhythmState.written_bars`), so the guide counts as the form report does.

Rules:
- Phrases: in a tune type that has them (PHRASE_TYPES), a part closes only after one or two 8-bar
  phrases as played (4 or 8 bars repeated, 8 or 16 not), and a first ending's ':|' only after 4 or
  8 bars (its part is counted when the second ending closes it). The bar line after 16 bars since
  a part or pass began must close it (after 32 in other types, so that every tune can end).
- Equal parts: in those types, when the first part is played for 16 bars, so is every later part
  (the lab's dance tunes almost never mix a 16-bar part with an 8-bar one).
- Two parts: a tune ends only after its second part, and, in those types, after whole phrases.
Wishes, asked a few times (WISH_TRIES resampled bars) and then let go:
- the cadence: a part's last note is the tonic of the tune's K: ("tonic") or in its tonic triad
  ("triad"; None asks nothing);
- from the second part on, where the tune may end, a last bar closed by '|]' or '||' completes the
  opening pickup (is a whole bar when there is none), as a repeat's last bar must already;
- a phrase part played once would rather be repeated (AABB): where it closes after 8 bars
  (`PartEnd.whole_repeated`), or goes on past its 8th bar with a plain '|' (`plain_bar_line`).
"""
from __future__ import annotations

from typing import List, NamedTuple, Optional

from labutils.music.bars import BOTH, DOUBLE, END, PLAIN, START, Bar, read_bars, tune_key
from labutils.music.form import TRIADS, heard_bars, part_passes, play_order, repeat_targets, split_parts, tune_type
from labutils.music.rhythm import NOTE_LETTERS, RhythmState
from labutils.music.transpose import LETTERS, NATURAL_SEMITONES

PHRASE_TYPES = ("reel", "jig", "hornpipe", "polka", "slide", "slip jig")  # their parts are 8 or 16 bars as played
PHRASE_BARS = 8
CADENCES = ("tonic", "triad")
FULL, PHRASE = "full", "phrase"  # what a plain bar line ends (FormRules.plain_bar_line)
WISH_TRIES = 2  # resampled bars at a part's end for the wishes, then the bar stands as the model wrote it
_KINDS = {"soft": DOUBLE}  # the rhythm's '||', '|]' and '[|' are one kind to it; to form.py, a part's end as '||' is


class PartEnd(NamedTuple):
    """FormRules.part_end's answer."""

    whole: bool  # the phrase rule holds
    whole_once: bool  # it would hold for the same bar line without a repeat ('||' for ':|')
    whole_repeated: bool  # a phrase part played once would hold it with a ':|' in its place (a wished repeat)
    closes: bool  # the cadence wish holds (asked when the rule does): the last note is the tonic, or in its triad
    wanted: Optional[int]  # the last bar's length the pickup wish asks for (ticks), None when it holds
    length: int  # the last bar's length (ticks)


def check_cadence(cadence: Optional[str]) -> Optional[str]:
    """`cadence` when it is one of CADENCES or None, else a ValueError that lists them."""
    if cadence is not None and cadence not in CADENCES:
        raise ValueError(f"cadence must be one of {', '.join(map(repr, CADENCES))} or None (no steering), "
                         f"got {cadence!r}.")
    return cadence


class SizedBar(Bar):
    """A form.py Bar known by its length alone (the rhythm's, in ticks): no notes to add up."""

    def __init__(self, length: int, line: str, ending: Optional[int], meter: Optional[int]):
        super().__init__((), line, ending, meter, None)
        self.size = length

    @property
    def length(self) -> int:
        """The bar's length in ticks."""
        return self.size


def tune_bars(rhythm: RhythmState, closing: Optional[str] = None) -> List[Bar]:
    """The bars the rhythm has read, as form.py's Bars (SizedBars); the bar being written is closed by the
    bar line kind `closing` (repeats.py's or form's), or left out when `closing` is None."""
    bars = rhythm.written_bars()
    if bars and bars[-1][1] == "":
        bars = bars[:-1] if closing is None else bars[:-1] + [(bars[-1][0], closing) + bars[-1][2:]]
    return [SizedBar(length, _KINDS.get(kind, kind), ending, meter) for length, kind, ending, meter in bars]


def played_bars(bars: List[Bar], parts: List[List[int]]) -> List[int]:
    """Bars a listener counts in each part as the tune is played (form.tune_form's part_bars_played)."""
    part_of = {i: number for number, part in enumerate(parts) for i in part}
    counts = [0] * len(parts)
    for i in heard_bars(bars, play_order(bars)):
        counts[part_of[i]] += 1
    return counts


class FormRules:
    """The form rules for one tune, from its header (its type and key) and the cadence asked."""

    def __init__(self, header: str, cadence: Optional[str]):
        self.header, self.cadence = header, cadence
        self.key_line = next((line + "\n" for line in header.split("\n") if line.startswith("K:")), "K:C\n")
        self.phrases = tune_type(header) in PHRASE_TYPES

    def part_end(self, rhythm: RhythmState, closing: str, bar_text: str) -> PartEnd:
        """The rules and wishes for the part that the bar line `closing` (a kind) closes after the bar being
        written; `bar_text` is that bar's text with the bar line."""
        bars = tune_bars(rhythm, closing)
        if not bars:  # a bar line before any note: nothing closes
            return PartEnd(True, True, False, True, None, 0)
        parts = split_parts(bars)
        length = bars[-1].length
        if closing == START and not any(bars[i].meter is None or bars[i].length >= bars[i].meter for i in parts[-1]):
            return PartEnd(True, True, False, True, None, length)  # a pickup, then '|:': no part closes
        whole = once = repeated = self._whole(bars, parts, closing)
        if closing == END and bars[-1].ending == 1:  # a first ending's repeat: the part goes on
            return PartEnd(whole, whole, whole, True, None, length)
        if closing == END and not whole:
            once = self._whole(tune_bars(rhythm, DOUBLE), parts, DOUBLE)
        wanted = None
        if closing != END:
            last = bars[-1]
            repeated = (self.phrases and not any(bars[i].line in (END, BOTH) or bars[i].ending for i in parts[-1])
                        and self._whole(bars[:-1] + [SizedBar(last.size, END, last.ending, last.meter)], parts, END))
            if len(parts) >= 2:  # where the tune may end (a repeat's last bar is the rhythm's)
                wanted = _closing_length(bars)
                wanted = None if wanted == length else wanted
        return PartEnd(whole, once, repeated, whole and self._closes_well(bar_text), wanted, length)

    def _whole(self, bars: List[Bar], parts: List[List[int]], closing: str) -> bool:
        """The phrase rule for the last part closed by `closing` after bars[-1]."""
        if not self.phrases:
            return True
        if closing == END and bars[-1].ending == 1:  # a first ending's repeat: its pass so far
            return len(heard_bars(bars, part_passes(bars, parts[-1])[0])) in (PHRASE_BARS // 2, PHRASE_BARS)
        played = played_bars(bars, parts)
        first = repeat_targets(bars, parts)[-1] if closing == END else None  # a repeat plays these again too
        return _phrase_parts(played, len(parts) - 1 if first is None else first)

    def repeat_length(self, rhythm: RhythmState) -> Optional[int]:
        """The length (ticks) the bar being written needs for a ':|' to close its part on whole phrases
        (the meter's, less the part's pickup); None when the part may not close here."""
        bars = tune_bars(rhythm, END)
        parts = split_parts(bars)
        if not bars or bars[-1].meter is None or not self._whole(bars, parts, END):
            return None
        first = bars[parts[-1][0]]
        pickup = first.length if len(parts[-1]) > 1 and first.length < first.meter else 0
        return bars[-1].meter - pickup

    def cadence_letters(self) -> str:
        """The note letters a part's last note may have: those the cadence asks for under the key's
        signature (all of them when it asks nothing, or the key is unknown)."""
        key = tune_key(self.header)
        if self.cadence is None or key is None:
            return "".join(sorted(NOTE_LETTERS))
        degrees = (0,) if self.cadence == "tonic" else TRIADS.get(key.mode, (0,))
        signature = key.signature()
        letters = [letter for letter in LETTERS
                   if (NATURAL_SEMITONES[LETTERS.index(letter)] + signature[letter] - key.tonic) % 12 in degrees]
        return "".join(letters) + "".join(letters).lower()

    def _closes_well(self, bar_text: str) -> bool:
        """The cadence asked: the last note of `bar_text` (read under the header's key) on the tonic or its triad."""
        if self.cadence is None:
            return True
        bars = read_bars(self.key_line + bar_text)
        bar = bars[-1] if bars else None
        if bar is None or bar.key is None or bar.last_pitch is None:
            return False
        degree = (bar.last_pitch - bar.key.tonic) % 12
        return degree == 0 if self.cadence == "tonic" else degree in TRIADS.get(bar.key.mode, (0,))

    def plain_bar_line(self, rhythm: RhythmState) -> Optional[str]:
        """What the plain '|' just read ends, counting the bars heard since the last bar line that closed
        a part or a pass: FULL, the 16th (a tune type with phrases; the 32nd in others), where the part
        must close instead; PHRASE, the 8th of a phrase part with no repeat and no ending yet, where
        a repeat is wished for; else None."""
        limit = 2 * PHRASE_BARS if self.phrases else 4 * PHRASE_BARS
        written = [bar for bar in rhythm.written_bars() if bar[1] != ""]
        since = next((n for n, bar in enumerate(reversed(written)) if bar[1] != PLAIN), len(written))
        if not written or written[-1][1] != PLAIN or since < PHRASE_BARS or (since > PHRASE_BARS + 1 and since < limit):
            return None  # (the usual answer, and a quick one)
        bars = tune_bars(rhythm)
        heard = len(heard_bars(bars, list(range(len(bars) - since, len(bars)))))
        if heard >= limit:
            return FULL
        opened = len(bars) > since and bars[len(bars) - since - 1].line in (START, BOTH)  # a repeat is open
        if self.phrases and heard == PHRASE_BARS and not opened and all(bar.ending is None for bar in bars[-since:]):
            return PHRASE
        return None

    def may_end(self, rhythm: RhythmState) -> bool:
        """True when the tune may end after the bars read: after its second part, on whole phrases."""
        bars = tune_bars(rhythm, "")
        parts = split_parts(bars)
        return len(parts) >= 2 and (not self.phrases or _phrase_parts(played_bars(bars, parts), len(parts) - 1))


def _phrase_parts(played: List[int], start: int) -> bool:
    """The phrase rules for the parts played[start:] (bars heard in each part): one or two 8-bar phrases
    each, and 16 bars each when they follow a first part of 16."""
    allowed = (2 * PHRASE_BARS,) if start > 0 and played[0] == 2 * PHRASE_BARS else (PHRASE_BARS, 2 * PHRASE_BARS)
    return all(bars_ in allowed for bars_ in played[start:])


def _closing_length(bars: List[Bar]):
    """The length of a last bar that completes the opening pickup (the first bar, when it is short): the meter's less it."""
    first, last = bars[0], bars[-1]
    pickup = first.length if len(bars) > 1 and first.meter is not None and first.length < first.meter else 0
    return None if last.meter is None else last.meter - pickup
