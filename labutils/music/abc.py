"""ABC text -> MIDI bytes, and the validity report of a tune.

Two parsers: the `abc2midi` program (package abcmidi) when it is on PATH, and music21's
ABC parser (pure Python) when it is not. Both give MIDI bytes plus a `TuneReport`;
`labutils.music.synth` turns the MIDI into sound. Public names are re-exported by labutils.music.
"""
from __future__ import annotations

import contextlib
import io
import re
import signal
import subprocess
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import List, Optional, Tuple

from labutils.music.common import TOOL_TIMEOUT_S, SongError, say_pure_python_once, tool_path

MAX_CHARS = 20_000  # longer text is refused: many times the longest tune of the collection
MUSIC21_MAX_BARS = 200  # music21 slows down quadratically with the number of bars
MUSIC21_MAX_BODY_CHARS = 2_000  # well above the music of the collection's longest tune
# A bar may hold at most this many whole notes (M:n/d with n/d above it is refused): far more than
# any bar of the collection; music21's time grows steeply with a bar's length (M:99999/1 never ends).
MAX_BAR_WHOLE_NOTES = 16
# For music21, a note, rest or chord lasts at most as long as a bar may (it split C99999999 into bars for 44 s
# and 3 GB), and the unit note length is at most a whole note (L:16/1 does the same with plain notes).
MAX_NOTE_WHOLE_NOTES = MAX_BAR_WHOLE_NOTES
MAX_UNIT_WHOLE_NOTES = 1
# (tests/test_music.py checks that every tune of the collection fits these limits.)
MUSIC21_TIMEOUT_S = TOOL_TIMEOUT_S  # and music21 is stopped after this long, like the programs
_METER = re.compile(r"(?:^|\[)M:\s*(\d+)\s*/\s*(\d+)", re.M)
_UNIT = re.compile(r"(?:^|\[)L:\s*(\d+)\s*/\s*(\d+)", re.M)
# What is not music in a tune's body: chord symbols, decorations, comments, inline and whole-line fields.
_NOT_NOTES = re.compile(r'"[^"\n]*"|![^!\n]*!|\+[^+\n]*\+|%[^\n]*|\[[A-Za-z]:[^\]\n]*\]|^[A-Za-z]:.*$', re.M)
_NOTE_LENGTH = re.compile(r"(?:[A-Ga-gzx][,']*|\])(\d*)(/*)(\d*)")  # a note, rest or chord's end, and its length

_TUNE_START = re.compile(r"(?m)^X:")
_KEY_LINE = re.compile(r"(?m)^K:.*$")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_ABC2MIDI_PROBLEM = re.compile(r"^(Error|Warning) in line-char (\d+)-(\d+) : (.*)$")
_BAR_WARNING = re.compile(r"Bar (\d+) has .* time units while the time signature has")


@dataclass
class TuneReport:
    """What the parser made of one tune: parsed or not, errors, bars of the wrong length, size."""

    parsed: bool
    backend: str
    errors: List[str] = field(default_factory=list)
    bad_bars: int = 0
    notes: int = 0
    seconds: float = 0.0
    warnings: List[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when the tune parsed with notes, no error, and every bar (after the pickup) fits the meter."""
        return self.parsed and not self.errors and self.bad_bars == 0 and self.notes > 0


def choose_backend(backend: str = "auto") -> str:
    """Resolve "auto" to "abc2midi" when it is on PATH, else "music21"; check the name."""
    if backend not in ("auto", "abc2midi", "music21"):
        raise ValueError(f"backend must be 'auto', 'abc2midi' or 'music21', got {backend!r}.")
    if backend == "auto":
        if tool_path("abc2midi"):
            return "abc2midi"
        say_pure_python_once()
        return "music21"
    if backend == "abc2midi" and not tool_path("abc2midi"):
        raise SongError("abc2midi is not installed (apt install abcmidi); use backend='music21'")
    return backend


def prepare_tune(song) -> str:
    """Return the first tune of `song` as clean text, or raise SongError saying why it is not one."""
    if isinstance(song, (bytes, bytearray)):
        song = bytes(song).decode("utf-8", errors="replace")
    if not isinstance(song, str):
        raise TypeError(f"a tune is a str of ABC notation, got {type(song).__name__}")
    text = _CONTROL_CHARS.sub("", song.replace("\r\n", "\n").replace("\r", "\n"))
    if not text.strip():
        raise SongError("empty tune: there is no text to play")
    if len(text) > MAX_CHARS:
        raise SongError(f"tune too long: {len(text)} characters (limit {MAX_CHARS})")
    starts = [m.start() for m in _TUNE_START.finditer(text)]
    if not starts:
        raise SongError("not ABC notation: no line starts with 'X:' (every tune begins with X:<number>)")
    tune = text[starts[0] : starts[1] if len(starts) > 1 else len(text)].strip()
    # A blank line ends a tune in ABC: one after the header (seen in the collection) would
    # leave abc2midi with no music, so the tune's lines are kept together.
    tune = "\n".join(line for line in tune.split("\n") if line.strip())
    key = _KEY_LINE.search(tune)
    if key is None:
        raise SongError("not ABC notation: no 'K:' (key) line, and the music starts after it")
    if not re.search(r"[A-Ga-g]", tune[key.end():]):
        raise SongError("no notes: nothing after the K: line is a note")
    for numerator, denominator in _METER.findall(tune):
        if int(denominator) == 0 or int(numerator) / int(denominator) > MAX_BAR_WHOLE_NOTES:
            raise SongError(f"meter M:{numerator}/{denominator} is not a meter a tune uses (a bar may hold at most "
                            f"{MAX_BAR_WHOLE_NOTES} whole notes; the lab's tunes use e.g. 6/8 or 4/4)")
    return tune + "\n"


def _unit(tune: str) -> Fraction:
    """The largest unit note length the tune sets (L:), or ABC's usual 1/8, in whole notes."""
    units = [Fraction(int(n), int(d)) for n, d in _UNIT.findall(tune) if int(d)]
    return max(units, default=Fraction(1, 8))


def note_lengths(tune: str, body_start: int) -> List[Tuple[Fraction, str]]:
    """(length in whole notes, as written) of each note, rest and chord of the music, read generously (each
    note of a chord counts, with the tune's largest unit): at least what any parser makes of it."""
    unit, found = _unit(tune), []
    for match in _NOTE_LENGTH.finditer(_NOT_NOTES.sub(" ", tune[body_start:])):
        numerator, slashes, denominator = match.groups()
        below = int(denominator) if denominator else 2 ** min(len(slashes), 64)
        if below:
            found.append((Fraction(int(numerator or 1), below) * unit, match.group()))
    return found


def _check_lengths(tune: str, body_start: int) -> None:
    """SongError for what music21 cannot be given in bounded time and memory: a unit note length or a note
    longer than any tune uses, or more bars' worth of notes than MUSIC21_MAX_BARS (bar lines or not)."""
    for numerator, denominator in _UNIT.findall(tune):
        if int(denominator) == 0 or Fraction(int(numerator), int(denominator)) > MAX_UNIT_WHOLE_NOTES:
            raise SongError(f"unit note length L:{numerator}/{denominator} is not one a tune uses (at most "
                            f"L:{MAX_UNIT_WHOLE_NOTES}/1 for music21; the lab's tunes use L:1/8)")
    lengths = note_lengths(tune, body_start)
    for length, written in lengths:
        if length > MAX_NOTE_WHOLE_NOTES:
            raise SongError(f"the note {written[:20]!r} lasts {float(length):g} whole notes: more than music21 is "
                            f"given (at most {MAX_NOTE_WHOLE_NOTES}, as long as a bar may be; abc2midi reads it)")
    shortest_bar = min((Fraction(int(n), int(d)) for n, d in _METER.findall(tune)), default=Fraction(1))
    bars = sum(length for length, _ in lengths) / shortest_bar  # music21 makes a bar for each bar's worth
    if bars > MUSIC21_MAX_BARS:
        raise SongError(f"too long for music21: its notes fill about {float(bars):.0f} bars of its meter (limit "
                        f"{MUSIC21_MAX_BARS}; abc2midi has no such limit)")


def read_abc2midi_output(output: str) -> Tuple[List[str], int, List[str]]:
    """Split abc2midi's messages into (errors, number of bars of the wrong length, other warnings)."""
    errors, warnings_, bad = [], [], set()
    for line in output.splitlines():
        line = line.strip()
        match = _ABC2MIDI_PROBLEM.match(line)
        if match is None:
            if line.lower().startswith("error"):
                errors.append(line)
            continue
        kind, message = match.group(1), match.group(4).strip()
        bar = _BAR_WARNING.search(message)
        if bar:  # abc2midi never checks bar 0 (the pickup); a repeat reports a bar twice
            bad.add(int(bar.group(1)))
        elif kind == "Error":
            errors.append(f"line {match.group(2)}: {message}")
        else:
            warnings_.append(f"line {match.group(2)}: {message}")
    return errors, len(bad), warnings_


def abc2midi_to_midi(tune: str) -> Tuple[Optional[bytes], TuneReport]:
    """Run abc2midi on one tune in a temporary folder; return (MIDI bytes or None, report)."""
    program = tool_path("abc2midi")
    if program is None:
        raise SongError("abc2midi is not installed (apt install abcmidi)")
    with tempfile.TemporaryDirectory(prefix="labutils-abc-") as folder:
        abc_file, midi_file = Path(folder) / "tune.abc", Path(folder) / "tune.mid"
        abc_file.write_text(tune, encoding="utf-8")
        try:  # -silent keeps the bar-length warnings (-quiet would hide them)
            done = subprocess.run([program, str(abc_file), "-o", str(midi_file), "-silent"],
                                  cwd=folder, capture_output=True, timeout=TOOL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return None, TuneReport(False, "abc2midi", [f"abc2midi took over {TOOL_TIMEOUT_S} s"])
        output = (done.stdout + done.stderr).decode("utf-8", errors="replace")
        errors, bad_bars, remarks = read_abc2midi_output(output)
        midi = midi_file.read_bytes() if midi_file.is_file() else None
    if done.returncode != 0:
        errors.append(f"abc2midi exited with status {done.returncode}")
    if midi is None and not errors:
        errors.append("abc2midi wrote no MIDI file")
    return midi, TuneReport(midi is not None, "abc2midi", errors, bad_bars, warnings=remarks)


def _bound_for_music21(tune: str) -> Tuple[str, List[str]]:
    """Cut a long tune to MUSIC21_MAX_BARS bars / MUSIC21_MAX_BODY_CHARS characters of music; SongError for
    note lengths music21 cannot be given (_check_lengths)."""
    key = _KEY_LINE.search(tune)
    head, body = tune[: key.end()], tune[key.end():]
    # A "!" ending a line is an old line-break mark; music21 reads it as an open decoration
    # and drops the next line, so remove it.
    body = re.sub(r"!\s*$", "", body, flags=re.M)
    # "M:3/4 egdB A2|" puts a meter before music on one line; music21 wants it as [M:3/4].
    body = re.sub(r"(?<!\[)\b([ML]):(\d+/\d+|C\|?)(?=[ \t]+\S)", r"[\1:\2]", body)
    remarks = []
    bars = [m.end() for m in re.finditer(r"\|+\]?|:\|", body)]
    cut = len(body)
    if len(bars) > MUSIC21_MAX_BARS:
        cut = bars[MUSIC21_MAX_BARS - 1]
    if cut > MUSIC21_MAX_BODY_CHARS:
        cut = max([b for b in bars if b <= MUSIC21_MAX_BODY_CHARS], default=MUSIC21_MAX_BODY_CHARS)
    if cut < len(body):
        remarks.append(f"only the first {cut} characters of music were read (music21 is slow on long tunes)")
        body = body[:cut]
    if not re.search(r"(?m)^L:", head):  # music21 needs a unit note length; ABC's default is 1/8
        head = head[: key.start()] + "L:1/8\n" + head[key.start():]
    _check_lengths(head + body, len(head))
    return head + body + "\n", remarks


def _section_edge(barline) -> bool:
    """True for a bar line that ends a section: a repeat sign, a double or a final bar."""
    return barline is not None and (getattr(barline, "direction", None) is not None
                                    or barline.type in ("double", "final", "heavy", "light-light",
                                                        "light-heavy", "heavy-light", "heavy-heavy"))


def _music21_bad_bars(part) -> Tuple[int, bool]:
    """(bars after the first whose length differs from the meter, whether bars were checked).

    Like abc2midi, the first bar (a pickup) is not checked, nor a short bar beside a section
    edge: the tail of a section and the pickup of the next make one bar between them.
    """
    measures = list(part.getElementsByClass("Measure"))
    if len(measures) < 2:
        return 0, False
    meters = []
    for measure in measures:
        try:
            meters.append(measure.barDuration.quarterLength)
        except Exception:  # music21 raises plain exceptions when a bar has no meter
            meters.append(None)
    bad = 0
    for i in range(1, len(measures)):
        measure, expected, length = measures[i], meters[i], measures[i].duration.quarterLength
        if i + 1 < len(meters) and meters[i - 1] == meters[i + 1] != expected:
            expected = meters[i - 1]  # music21 cut an over-long bar, giving the rest a meter of its own
        if expected is None:
            continue
        if length < expected and (i == len(measures) - 1 or _section_edge(measure.rightBarline)
                                  or _section_edge(measures[i - 1].rightBarline)
                                  or _section_edge(measure.leftBarline)):
            continue
        if abs(length - expected) > 1e-6:
            bad += 1
    return bad, True


def _prepare_for_midi(part) -> None:
    """Fix two music21 quirks before writing MIDI: shared meters, and repeats without a start.

    In ABC `A :| B :|` repeats B alone; music21 would go back to the top for B, so each end
    repeat without a start gets one right after the previous end.
    """
    from music21 import bar

    measures = list(part.getElementsByClass("Measure"))
    seen = set()  # music21 splits an over-long bar in two that share one TimeSignature object,
    for measure in measures:  # which its MIDI writer then refuses: keep only the first one
        for meter in list(measure.getElementsByClass("TimeSignature")):
            if id(meter) in seen:
                measure.remove(meter)
            seen.add(id(meter))
    open_start, after_end = True, None  # the top of the tune is an implied start
    for measure in measures:
        if isinstance(measure.leftBarline, bar.Repeat) and measure.leftBarline.direction == "start":
            open_start = True
        if isinstance(measure.rightBarline, bar.Repeat) and measure.rightBarline.direction == "end":
            if not open_start and after_end is not None:
                after_end.leftBarline = bar.Repeat(direction="start")
            open_start = False
            after_end = None
        elif after_end is None and not open_start:
            after_end = measure


def _drop_repeats(part) -> None:
    """Remove every repeat sign, so the music plays once straight through."""
    from music21 import bar

    for measure in part.getElementsByClass("Measure"):
        if isinstance(measure.leftBarline, bar.Repeat):
            measure.leftBarline = None
        if isinstance(measure.rightBarline, bar.Repeat):
            measure.rightBarline = None


class _TimeUp(Exception):
    """music21 ran past its time limit."""


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Raise _TimeUp inside the block after `seconds` (a SIGALRM timer, so only in the main thread
    of a Unix process; elsewhere the meter and length limits of prepare_tune are the bound)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def time_up(signum, frame):
        raise _TimeUp

    previous = signal.signal(signal.SIGALRM, time_up)
    outer_left, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:  # someone else's alarm was running: give it back what is left of it
            signal.setitimer(signal.ITIMER_REAL, max(1e-3, outer_left - (time.monotonic() - started)))


def music21_to_midi(tune: str) -> Tuple[Optional[bytes], TuneReport]:
    """Parse one tune with music21 (pure Python); return (MIDI bytes or None, report)."""
    try:
        import music21
    except ImportError:
        raise SongError("no ABC parser: install music21 (pip install music21) or abcmidi (apt)") from None
    text, remarks = _bound_for_music21(tune)
    chatter = io.StringIO()
    try:
        with _time_limit(MUSIC21_TIMEOUT_S), contextlib.redirect_stderr(chatter), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = music21.converter.parseData(text, format="abc")  # parseData: never a file path
            part = score.parts[0] if score.parts else score
            bad_bars, checked = _music21_bad_bars(part)
            _prepare_for_midi(part)
            try:
                midi = music21.midi.translate.streamToMidiFile(score).writestr()
            except music21.exceptions21.Music21Exception:  # e.g. "badly formed repeats"
                _drop_repeats(part)
                remarks.append("repeats played once: music21 could not expand them")
                midi = music21.midi.translate.streamToMidiFile(score).writestr()
    except _TimeUp:
        return None, TuneReport(False, "music21", [f"music21 took over {MUSIC21_TIMEOUT_S} s"], warnings=remarks)
    except Exception as error:  # music21's parser raises many kinds (ABCHandlerException, ...)
        message = " ".join(str(error).split())[:200] or type(error).__name__
        return None, TuneReport(False, "music21", [message], warnings=remarks)
    remarks += [line for line in chatter.getvalue().splitlines() if line.strip()][:20]
    if not checked:
        remarks.append("bar lengths not checked: music21 saw fewer than 2 plain bar lines")
    return midi, TuneReport(True, "music21", [], bad_bars, warnings=remarks)


def tune_to_midi(song, backend: str = "auto") -> Tuple[Optional[bytes], TuneReport]:
    """ABC text -> (MIDI bytes or None, report) with the chosen parser; SongError if not a tune."""
    tune = prepare_tune(song)
    if choose_backend(backend) == "abc2midi":
        return abc2midi_to_midi(tune)
    return music21_to_midi(tune)
