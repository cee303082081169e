"""Does it sound like a tune? The form of ABC tunes: parts, repeats, cadences, returning phrases.

    form = tune_form(tune)             # one tune: parts, bars per part, last note, phrase return, ...
    summary = form_summary(tunes)      # shares over many tunes (see SHARES), and the key counts
    form_table({"real": real, "plain": plain, "guided": guided})   # prints one column per group

The bars come from `labutils.music.bars.read_bars` (pitches and exact lengths). A tune's parts
are its sections: a part ends at a bar line other than '|' ('||', '|]', '[|', ':|', '::'), or
before a '|:' once it holds a full bar; a first ending's ':|' does not end it when a later
ending follows. One pass through a part is its bars without endings, then its first ending's.
The tune is played as abc2midi plays it (`play_order`): a ':|' goes back to the last '|:' or
'::', or, with none open, to the tune's start when it is the first repeat sign, else to its
own part's start; a part with endings plays `common + ending 1 + common + ending 2`. (One
abc2midi 4.84 habit is not copied: after a part with numbered endings, it sends a later ':|'
that has no '|:' back to that part, a counter it never resets; here the later part repeats
itself, as written.) Bars are counted as a listener hears them: a short first bar (the pickup)
is not a bar of its own, nor is a short bar right after a short bar (the pickup a section's
end writes for the next pass), so an AABB reel of 8-bar parts is 32 bars as played, and a part
is "repeated" when its bars are played more than once.

Two bars are the same (one "restates" the other) when they have the same notes in the same
order: each note's pitch (a MIDI number after key signature and accidentals; a chord's pitches;
a rest) and exact length. Spacing, decorations, chord symbols, grace notes, ties and slurs do
not count, nor does how the bar line is written. A part of 8 bars has a phrase return when its
bar 5 or 6 is the same as its bar 1 or 2; a bar repeats when it is the same as an earlier bar
of the tune as written (the bars a listener counts, each ending once, repeats not played
again). A part's last note is that of its last written bar, measured against the tonic of the
K: in force there; the tune's key is its first K:.
"""
from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Dict, List, Mapping, Optional, Sequence

from labutils.music.bars import BOTH, END, PLAIN, START, Bar, header_field, read_bars, tune_key

DANCE_TYPES = ("reel", "jig", "hornpipe", "polka")  # the tune types that come in two 8-bar parts, AABB
TRIADS = {"major": (0, 4, 7), "mixolydian": (0, 4, 7), "lydian": (0, 4, 7), "minor": (0, 3, 7),
          "dorian": (0, 3, 7), "phrygian": (0, 3, 7), "locrian": (0, 3, 6)}  # the tonic chord of each mode
_TYPE_IN_ID = re.compile(r"id:[a-z]+-([a-z]+)-\d+")
_TYPE_NAMES = {"slipjig": "slip jig", "setdance": "set dance", "ocarolan": "O'Carolan"}


@dataclass
class TuneForm:
    """The form of one tune (see the module docstring); degrees are semitones above the tonic."""

    tune_type: Optional[str]
    key: Optional[str]
    parts: int
    bars_per_part: List[int]  # one pass through each part
    repeated: List[bool]  # each part is played more than once
    endings: List[int]  # how many numbered endings each part has
    part_bars_played: List[int]  # bars each part adds to the tune as played
    bars_played: int
    pickup: Fraction
    last_bar: Fraction
    completes_pickup: bool  # the last bar and the pickup make one whole bar (no pickup: a full last bar)
    last_bar_full: bool
    last_degree: Optional[int]
    part_degrees: List[Optional[int]]
    in_triad: Optional[bool]
    phrase_returns: List[bool] = field(default_factory=list)  # one per 8-bar part
    bars_written: int = 0
    bars_repeating: int = 0

    @property
    def dance(self) -> bool:
        """A reel, jig, hornpipe or polka."""
        return self.tune_type in DANCE_TYPES

    @property
    def two_part_32(self) -> bool:
        """Two parts, each 16 bars as played (8 bars repeated, or written out twice): 32 bars."""
        return self.parts == 2 and self.part_bars_played == [16, 16]

    @property
    def last_bar_complete(self) -> bool:
        """The last bar is a whole bar, alone or with the opening pickup (a tune that does not stop short)."""
        return self.completes_pickup or self.last_bar_full

    @property
    def last_on_tonic(self) -> bool:
        return self.last_degree == 0

    @property
    def parts_on_tonic(self) -> bool:
        """Every part's last note is the tonic."""
        return bool(self.part_degrees) and all(d == 0 for d in self.part_degrees)


def tune_type(tune: str) -> Optional[str]:
    """The tune type from the R: header ('reel', 'slip jig'), else from the collection's 'Z: id:dc-reel-12'."""
    rhythm = header_field(tune, "R")
    if rhythm:
        name = rhythm.lower().replace("-", " ").strip()
        return _TYPE_NAMES.get(name.replace(" ", ""), name)
    match = _TYPE_IN_ID.search(header_field(tune, "Z") or "")
    return _TYPE_NAMES.get(match.group(1), match.group(1)) if match else None


def split_parts(bars: Sequence[Bar]) -> List[List[int]]:
    """The written bars of each part, in order (see the module docstring)."""
    parts, current = [], []
    for i, bar in enumerate(bars):
        current.append(i)
        following = bars[i + 1] if i + 1 < len(bars) else None
        if bar.line == PLAIN or following is None:
            continue
        if following.ending is not None and bar.ending is not None and following.ending > bar.ending:
            continue  # a first ending's ':|': the part goes on with the next ending
        if bar.line == START and not any(bar.meter is None or bars[j].length >= bar.meter for j in current):
            continue  # a pickup, then '|:'
        parts.append(current)
        current = []
    if current:
        parts.append(current)
    return parts


def part_passes(bars: Sequence[Bar], indices: List[int]) -> List[List[int]]:
    """The written bars of each pass through a part: twice when repeated, once per ending with endings."""
    common = [i for i in indices if bars[i].ending is None]
    numbers = sorted({bars[i].ending for i in indices if bars[i].ending is not None})
    repeated = any(bars[i].line in (END, BOTH) for i in indices)
    if not numbers:
        return [indices, indices] if repeated else [indices]
    passes = []
    for number in numbers:
        ending = [i for i in indices if bars[i].ending == number]
        before = [i for i in common if not ending or i < ending[0]]
        after = [i for i in common if ending and i > ending[-1]]
        passes.append(before + ending + after)
    return passes


def heard_bars(bars: Sequence[Bar], indices: Sequence[int]) -> List[int]:
    """The bars a listener counts in one pass: no leading pickup, no short bar completing a short bar."""
    counted, previous_short = [], False
    for position, i in enumerate(indices):
        meter = bars[i].meter
        short = meter is not None and bars[i].length < meter
        if short and (position == 0 and len(indices) > 1 or previous_short):
            previous_short = False
            continue
        counted.append(i)
        previous_short = short
    return counted


def _degree(bar: Bar) -> Optional[int]:
    """The bar's last pitch in semitones above the tonic of the key in force (0-11), None without one."""
    pitch = bar.last_pitch
    return None if pitch is None or bar.key is None else (pitch - bar.key.tonic) % 12


def _phrase_return(bars: Sequence[Bar], heard: List[int]) -> bool:
    """Bar 5 or 6 of an 8-bar pass the same as bar 1 or 2."""
    notes = [bars[i].notes for i in heard]
    return any(notes[late] == notes[early] for late in (4, 5) for early in (0, 1))


def _repeating_bars(bars: Sequence[Bar], counted: Sequence[int]) -> int:
    """How many of the counted bars have the same notes as an earlier one."""
    seen, repeating = set(), 0
    for i in counted:
        repeating += bars[i].notes in seen
        seen.add(bars[i].notes)
    return repeating


def repeat_targets(bars: Sequence[Bar], parts: Sequence[List[int]]) -> List[Optional[int]]:
    """For each part, the part its ':|' goes back to (None when nothing closes it), as abc2midi plays it.

    The last part a '|:' or '::' opened, when no ':|' closed a repeat since; with none open, the
    tune's first part when no repeat sign came before (abc2midi adds a '|:' before the music),
    else the part itself (abc2midi adds the '|:' at the last '||', '|]' or ':|').
    """
    targets, open_part, signs = [], None, False
    for number, indices in enumerate(parts):
        if any(bars[i].opens_repeat for i in indices):
            open_part, signs = number, True
        if not any(bars[i].line in (END, BOTH) for i in indices):
            targets.append(None)
            continue
        targets.append(open_part if open_part is not None else number if signs else 0)
        open_part, signs = None, True
    return targets


def play_order(bars: Sequence[Bar]) -> List[int]:
    """The written bars in the order they are played: repeats and endings followed (`repeat_targets`)."""
    parts = split_parts(bars)
    order: List[int] = []
    for number, (indices, target) in enumerate(zip(parts, repeat_targets(bars, parts))):
        if target is None:
            order += indices
            continue
        passes = part_passes(bars, indices)
        again = [i for part in parts[target:number] for i in part]  # parts the repeat plays again
        order += passes[0]
        for one in passes[1:]:
            order += again + one
    return order


def _pickup(bars: Sequence[Bar]) -> Fraction:
    """The length of the tune's first bar when it is shorter than the meter (a pickup), else 0."""
    first = bars[0] if len(bars) > 1 else None
    if first is None or first.meter is None or first.length >= first.meter:
        return Fraction(0)
    return first.length


def tune_form(tune: str) -> TuneForm:
    """The form of one ABC tune (see the module docstring and TuneForm)."""
    bars = read_bars(tune)
    key = tune_key(tune)
    parts = split_parts(bars)
    heard = heard_bars(bars, play_order(bars))
    first_passes = [heard_bars(bars, part_passes(bars, p)[0]) for p in parts]
    last = bars[-1] if bars else None
    pickup = _pickup(bars)
    degrees = [_degree(bars[p[-1]]) for p in parts]
    triad = TRIADS.get(last.key.mode) if last is not None and last.key is not None else None
    last_degree = degrees[-1] if degrees else None
    counted = sorted({i for p in parts for one in part_passes(bars, p) for i in heard_bars(bars, one)})
    return TuneForm(
        tune_type=tune_type(tune), key=key.name if key else None, parts=len(parts),
        bars_per_part=[len(one) for one in first_passes],
        repeated=[any(heard.count(i) > 1 for i in p) for p in parts],
        endings=[len({bars[i].ending for i in p} - {None}) for p in parts],
        part_bars_played=[sum(i in p for i in heard) for p in parts], bars_played=len(heard), pickup=pickup,
        last_bar=last.length if last else Fraction(0),
        completes_pickup=last is not None and last.meter is not None and pickup + last.length == last.meter,
        last_bar_full=last is not None and last.meter is not None and last.length == last.meter,
        last_degree=last_degree, part_degrees=degrees,
        in_triad=None if triad is None or last_degree is None else last_degree in triad,
        phrase_returns=[_phrase_return(bars, one) for one in first_passes if len(one) == 8],
        bars_written=len(counted), bars_repeating=_repeating_bars(bars, counted))


# The shares `form_summary` reports, in the order `form_table` prints them: (key, label).
SHARES = (
    ("two_part_32", "dance tunes in two 8-bar parts, each repeated (32 bars)"),
    ("one_part", "tunes with one part only"),
    ("last_bar_complete", "last bar is whole (full, or completing the opening pickup)"),
    ("completes_pickup", "last bar completes the opening pickup"),
    ("last_on_tonic", "last note is the tonic of K:"),
    ("last_in_triad", "last note is in the tonic triad"),
    ("parts_on_tonic", "every part ends on the tonic"),
    ("phrase_return", "8-bar parts whose bar 5 or 6 restates bar 1 or 2"),
    ("bar_repetition", "bars that repeat an earlier bar of the tune"),
)


def _share(count: int, total: int) -> Optional[float]:
    return count / total if total else None


def form_summary(tunes: Sequence[str]) -> Dict:
    """The shares of SHARES over `tunes` (None where nothing is counted), with the counts behind them
    and `keys`, the count of each K: key (a Counter)."""
    if isinstance(tunes, str):
        raise TypeError("form_summary takes a list of tunes; wrap a single tune in a list.")
    forms = [tune_form(t) for t in tunes]
    dance = [f for f in forms if f.dance]
    returns = [r for f in forms for r in f.phrase_returns]
    counts = {
        "tunes": len(forms), "dance_tunes": len(dance), "eight_bar_parts": len(returns),
        "bars": sum(f.bars_written for f in forms), "repeating_bars": sum(f.bars_repeating for f in forms)}
    summary = {
        "two_part_32": _share(sum(f.two_part_32 for f in dance), len(dance)),
        "one_part": _share(sum(f.parts == 1 for f in forms), len(forms)),
        "last_bar_complete": _share(sum(f.last_bar_complete for f in forms), len(forms)),
        "completes_pickup": _share(sum(f.completes_pickup for f in forms), len(forms)),
        "last_on_tonic": _share(sum(f.last_on_tonic for f in forms), len(forms)),
        "last_in_triad": _share(sum(bool(f.in_triad) for f in forms), len(forms)),
        "parts_on_tonic": _share(sum(f.parts_on_tonic for f in forms), len(forms)),
        "phrase_return": _share(sum(returns), len(returns)),
        "bar_repetition": _share(counts["repeating_bars"], counts["bars"]),
    }
    return {**summary, "counts": counts, "keys": Counter(f.key for f in forms)}


def key_distance(keys: Mapping, other: Mapping) -> float:
    """Total variation distance between two key distributions (counts of each key): 0 the same, 1 disjoint."""
    total, other_total = sum(keys.values()), sum(other.values())
    if not total or not other_total:
        raise ValueError("key_distance needs at least one key on each side.")
    names = set(keys) | set(other)
    return 0.5 * sum(abs(keys.get(k, 0) / total - other.get(k, 0) / other_total) for k in names)


def form_table(groups: Mapping[str, Sequence[str]], reference: Optional[str] = None, seed: int = 0,
               show: bool = True) -> Dict[str, Dict]:
    """Measure each group of tunes ({"real": ..., "plain": ..., "guided": ...}) and print one column each.

    The last row is each group's key distance from the `reference` group (the first by default); the
    reference's own entry is that of a seeded sample of it as large as the largest other group, the
    distance that sampling alone gives. Returns {group: form_summary(...) with "key_distance"}.
    """
    names = list(groups)
    reference = names[0] if reference is None else reference
    summaries = {name: form_summary(groups[name]) for name in names}
    ref_keys = summaries[reference]["keys"]
    sizes = [len(groups[n]) for n in names if n != reference] or [len(groups[reference])]
    for name in names:
        if name == reference:
            sample = random.Random(seed).sample(list(groups[name]), min(max(sizes), len(groups[name])))
            summaries[name]["key_distance"] = key_distance(Counter(tune_form(t).key for t in sample), ref_keys)
        else:
            summaries[name]["key_distance"] = key_distance(summaries[name]["keys"], ref_keys)
    if show:
        print(format_table(summaries))
    return summaries


def _percent(share: Optional[float]) -> str:
    """'73%', '0.4%' below 10%, '-' for None."""
    if share is None:
        return "-"
    return f"{share:.1%}" if 0 < share < 0.1 else f"{share:.0%}"


def format_table(summaries: Mapping[str, Dict]) -> str:
    """A Markdown table of form summaries, one column per group."""
    names = list(summaries)
    lines = ["| | " + " | ".join(f"{n} ({summaries[n]['counts']['tunes']})" for n in names) + " |",
             "|---|" + "---|" * len(names)]
    for key, label in SHARES:
        cells = [_percent(summaries[n][key]) for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if all("key_distance" in summaries[n] for n in names):
        cells = [f"{summaries[n]['key_distance']:.2f}" for n in names]
        lines.append("| keys: total variation distance from the first column's | " + " | ".join(cells) + " |")
    return "\n".join(lines)
