"""Listen to and look at tunes: ABC -> MIDI -> WAV, play_song, check_tune, sheet music.

Parsing ABC uses `abc2midi` when it is installed and music21 otherwise (labutils.music_abc);
sound comes from timidity when its own config works (fluid-soundfont-gm), else from a small
numpy synthesizer (labutils.music_synth); synth="timidity" also takes freepats. Every path
works with pip packages alone; the apt tools (abcmidi, timidity + fluid-soundfont-gm, abcm2ps)
make it faster and nicer.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from labutils.music_abc import (MAX_CHARS, TOOL_TIMEOUT_S, SongError, TuneReport, prepare_tune,
                                say_pure_python_once, tool_path, tune_to_midi)
from labutils.music_synth import (MAX_SECONDS, SAMPLE_RATE, Note, cap_notes, midi_notes, synthesize,
                                  timidity_preferred, timidity_ready, timidity_render)

__all__ = ["SongError", "TuneReport", "WavResult", "MAX_CHARS", "MAX_SECONDS", "SAMPLE_RATE",
           "available_tools", "say_pure_python_once", "check_tune", "check_corpus", "clean_rate",
           "song_notes", "render_song", "abc_to_midi", "abc_to_wav", "save_song", "play_song",
           "write_wavs", "piano_roll", "sheet_svg", "show_sheet", "main"]

PathLike = Union[str, Path]
MAX_MIDI_BYTES = 2_000_000  # the longest tune of the collection makes ~10 kB


def available_tools() -> Dict[str, bool]:
    """Which optional programs this machine has: abc2midi, timidity (with a sound font), abcm2ps."""
    return {"abc2midi": tool_path("abc2midi") is not None, "timidity": timidity_ready(),
            "abcm2ps": tool_path("abcm2ps") is not None}


def _parse(song, backend: str) -> Tuple[Optional[bytes], TuneReport, List[Note]]:
    """Parse a tune; return (MIDI or None, report with notes and seconds filled in, notes)."""
    midi, report = tune_to_midi(song, backend)
    if midi is not None and len(midi) > MAX_MIDI_BYTES:
        raise SongError(f"tune too long: its MIDI has {len(midi) // 1000} kB (limit {MAX_MIDI_BYTES // 1000} kB)")
    notes = midi_notes(midi) if midi is not None else []
    report.notes = len(notes)
    report.seconds = round(max((n.end for n in notes), default=0.0), 3)
    return midi, report, notes


def check_tune(song, backend: str = "auto") -> TuneReport:
    """Report on one tune: parsed, errors, bars of the wrong length, note count, duration in seconds."""
    try:
        return _parse(song, backend)[1]
    except SongError as error:
        return TuneReport(False, backend, [str(error)])


def check_corpus(songs: Sequence[str], backend: str = "auto") -> List[TuneReport]:
    """check_tune for each tune of a list."""
    return [check_tune(song, backend) for song in songs]


def clean_rate(songs: Sequence[str], backend: str = "auto") -> float:
    """Fraction of tunes that parse with no error and no bar of the wrong length."""
    if not songs:
        raise ValueError("clean_rate needs at least one tune.")
    return sum(report.clean for report in check_corpus(songs, backend)) / len(songs)


def _notes_and_length(song, backend: str, max_seconds: float) -> Tuple[List[Note], float]:
    """(notes cut at max_seconds, the tune's full length in seconds); SongError if it has none."""
    midi, report, notes = _parse(song, backend)
    if midi is None:
        raise SongError(f"not playable: {report.errors[0] if report.errors else 'the parser failed'}")
    kept = cap_notes(notes, max_seconds)
    if not kept:
        raise SongError("no notes: the tune parsed but has nothing to play")
    return kept, report.seconds


def song_notes(song, backend: str = "auto", max_seconds: float = MAX_SECONDS) -> List[Note]:
    """The notes of a tune (start/end seconds, pitch), cut at max_seconds; SongError if none."""
    return _notes_and_length(song, backend, max_seconds)[0]


def render_song(song, backend: str = "auto", synth: str = "auto", max_seconds: float = MAX_SECONDS,
                sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """ABC text -> mono float32 audio in [-1, 1], at most max_seconds long; SongError if unplayable."""
    return _render(song, backend, synth, max_seconds, sample_rate)[0]


def _render(song, backend: str, synth: str, max_seconds: float,
            sample_rate: int) -> Tuple[np.ndarray, float]:
    """(audio, the tune's full length in seconds) for render_song and play_song."""
    if synth not in ("auto", "numpy", "timidity"):
        raise ValueError(f"synth must be 'auto', 'numpy' or 'timidity', got {synth!r}.")
    if not 0 < max_seconds <= 600:
        raise ValueError(f"max_seconds must be in (0, 600], got {max_seconds}.")
    if not 8_000 <= sample_rate <= 48_000:
        raise ValueError(f"sample_rate must be between 8000 and 48000, got {sample_rate}.")
    notes, full_seconds = _notes_and_length(song, backend, max_seconds)
    if synth == "timidity" or (synth == "auto" and timidity_preferred()):
        try:
            audio = timidity_render(notes, sample_rate)
        except SongError as error:
            if synth == "timidity":
                raise
            print(f"{error}: using the numpy synthesizer")
            audio = synthesize(notes, sample_rate)
    else:
        audio = synthesize(notes, sample_rate)
    return audio[: int(max_seconds * sample_rate)], full_seconds  # the cap bounds the file size too


def abc_to_midi(song, path: PathLike, backend: str = "auto") -> Path:
    """Write the tune as a MIDI file at `path` and return the path; SongError if it does not parse."""
    midi, report, notes = _parse(song, backend)
    if midi is None:
        raise SongError(f"not playable: {report.errors[0] if report.errors else 'the parser failed'}")
    path = Path(path)
    path.write_bytes(midi)
    return path


def abc_to_wav(song, path: PathLike, backend: str = "auto", synth: str = "auto",
               max_seconds: float = MAX_SECONDS, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write the tune as a mono 16-bit WAV at `path` and return the path; SongError if unplayable."""
    from scipy.io import wavfile

    audio = render_song(song, backend, synth, max_seconds, sample_rate)
    path = Path(path)
    wavfile.write(path, sample_rate, (audio * 32767).astype(np.int16))
    return path


def save_song(song, path: PathLike, **options) -> Path:
    """Save a tune as WAV (same as abc_to_wav)."""
    return abc_to_wav(song, path, **options)


def play_song(song, backend: str = "auto", synth: str = "auto", max_seconds: float = MAX_SECONDS):
    """An IPython Audio player for the tune, or None after printing one line saying why it cannot play."""
    from IPython.display import Audio

    try:
        audio, full_seconds = _render(song, backend, synth, max_seconds, SAMPLE_RATE)
    except SongError as error:
        print(f"Cannot play this tune: {error}")
        return None
    if full_seconds > max_seconds:
        print(f"The tune lasts {full_seconds:.0f} s: playing the first {max_seconds:g} s (max_seconds).")
    return Audio(audio, rate=SAMPLE_RATE)


@dataclass
class WavResult:
    """What write_wavs did with one tune: the WAV path, or None and the reason."""

    index: int
    path: Optional[Path]
    reason: str = ""


def write_wavs(songs: Sequence[str], folder: PathLike, backend: str = "auto", synth: str = "auto",
               max_seconds: float = MAX_SECONDS) -> List[WavResult]:
    """Write folder/tune_NN.wav for each playable tune; one WavResult per tune, in order."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for index, song in enumerate(songs):
        path = folder / f"tune_{index:02d}.wav"
        try:
            results.append(WavResult(index, abc_to_wav(song, path, backend, synth, max_seconds)))
        except SongError as error:
            results.append(WavResult(index, None, str(error)))
    return results


def piano_roll(song, backend: str = "auto", max_seconds: float = MAX_SECONDS):
    """A matplotlib Figure of the tune's notes: time across, pitch up. SongError if unplayable."""
    import matplotlib.pyplot as plt  # in a notebook this also turns on figure display

    notes = song_notes(song, backend, max_seconds)
    figure = plt.figure(figsize=(10, 3.5), layout="constrained")
    plt.close(figure)  # shown once, as the cell's value, not again when the cell ends
    axes = figure.add_subplot()
    for note in notes:
        axes.add_patch(_note_box(note))
    low, high = min(n.pitch for n in notes), max(n.pitch for n in notes)
    axes.set_xlim(0, max(n.end for n in notes))
    axes.set_ylim(low - 1.5, high + 1.5)
    names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
    ticks = [p for p in range(low, high + 1) if names[p % 12] in ("C", "E", "G")] or [low]
    axes.set_yticks(ticks, [f"{names[p % 12]}{p // 12 - 1}" for p in ticks])
    axes.set_xlabel("seconds")
    axes.set_ylabel("pitch")
    axes.grid(axis="y", alpha=0.3)
    title = next((line[2:].strip() for line in prepare_tune(song).splitlines() if line.startswith("T:")), "")
    axes.set_title(f"{title} — {len(notes)} notes" if title else f"{len(notes)} notes")
    return figure


def _note_box(note: Note):
    """One note of the piano roll as a rectangle, darker when louder."""
    from matplotlib.patches import Rectangle

    return Rectangle((note.start, note.pitch - 0.4), note.end - note.start, 0.8,
                     color=(0.1, 0.3, 0.7, 0.35 + 0.65 * note.velocity / 127))


def sheet_svg(song) -> str:
    """Sheet music of a tune as SVG text from `abcm2ps -g`; SongError if abcm2ps is missing or fails."""
    program = tool_path("abcm2ps")
    if program is None:
        raise SongError("abcm2ps is not installed (apt install abcm2ps)")
    tune = prepare_tune(song)
    with tempfile.TemporaryDirectory(prefix="labutils-abcm2ps-") as folder:
        (Path(folder) / "tune.abc").write_text(tune, encoding="utf-8")
        try:  # -g writes SVG; for -O out.svg it names the file out001.svg
            subprocess.run([program, "-g", "-O", "out.svg", "tune.abc"], cwd=folder,
                           capture_output=True, timeout=TOOL_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise SongError(f"abcm2ps took over {TOOL_TIMEOUT_S} s") from None
        pages = sorted(Path(folder).glob("out*.svg"))
        if not pages:
            raise SongError("abcm2ps wrote no sheet music for this tune")
        return pages[0].read_text(encoding="utf-8", errors="replace")


def show_sheet(song, backend: str = "auto"):
    """Sheet music (IPython SVG) via abcm2ps when present, else a piano roll; None + reason if neither."""
    try:
        prepare_tune(song)  # a text that is no tune is refused before any program runs
        if tool_path("abcm2ps") is not None:
            from IPython.display import SVG

            try:
                return SVG(data=sheet_svg(song))
            except SongError as error:
                print(f"{error}: showing a piano roll instead")
        return piano_roll(song, backend)
    except SongError as error:
        print(f"Cannot show this tune: {error}")
        return None


def main(argv: Optional[List[str]] = None) -> int:
    """`python -m labutils play TUNE.abc [--out F.wav]`: check a tune and write it as WAV."""
    parser = argparse.ArgumentParser(prog="python -m labutils play",
                                     description="Check an ABC tune and write it as a WAV file.")
    parser.add_argument("tune", help="an .abc file (the first tune in it, or --index)")
    parser.add_argument("--out", help="WAV file to write (default: TUNE with .wav in place of .abc)")
    parser.add_argument("--index", type=int, default=0, help="which tune of the file (default 0)")
    parser.add_argument("--backend", choices=["auto", "abc2midi", "music21"], default="auto")
    parser.add_argument("--synth", choices=["auto", "numpy", "timidity"], default="auto")
    parser.add_argument("--max-seconds", type=float, default=MAX_SECONDS, help="audio length cap")
    parser.add_argument("--check", action="store_true", help="print the report only, write nothing")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    from labutils.data import split_tunes

    source = Path(args.tune)
    if not source.is_file():
        print(f"error: no such file: {str(source)!r}", file=sys.stderr)
        return 2
    tunes = split_tunes(source.read_text(encoding="utf-8", errors="replace")) or [source.read_text(
        encoding="utf-8", errors="replace")]
    if not 0 <= args.index < len(tunes):
        print(f"error: --index {args.index} but the file has {len(tunes)} tune(s)", file=sys.stderr)
        return 2
    song = tunes[args.index]
    report = check_tune(song, args.backend)
    state = "clean" if report.clean else ("parsed" if report.parsed else "not parsed")
    print(f"{source.name} tune {args.index}: {state}, {report.notes} notes, {report.seconds:.1f} s, "
          f"{report.bad_bars} bar(s) of the wrong length ({report.backend})")
    for problem in report.errors[:5]:
        print(f"  error: {problem}")
    if args.check:
        return 0 if report.clean else 1
    out = Path(args.out) if args.out else source.with_suffix(".wav")
    try:
        abc_to_wav(song, out, args.backend, args.synth, args.max_seconds)
    except SongError as error:
        print(f"Cannot play this tune: {error}", file=sys.stderr)
        return 1
    print(f"Wrote {out}")
    return 0

