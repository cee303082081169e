"""Hear a tune: check it, ABC -> MIDI -> WAV, play_song in a notebook, `python -m labutils play`."""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from labutils.files import atomic_write_bytes, check_output
from labutils.music.abc import TuneReport, tune_to_midi
from labutils.music.audiofile import MIME_TYPES, audio_suffix, encode_audio, ogg_available, write_audio_file
from labutils.music.common import SongError, tool_path
from labutils.music.synth import (
    MAX_SECONDS,
    SAMPLE_RATE,
    Note,
    cap_notes,
    midi_notes,
    synthesize,
    timidity_preferred,
    timidity_ready,
    timidity_render,
)

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


def _playable(parsed: Tuple[Optional[bytes], TuneReport, List[Note]], max_seconds: float) -> Tuple[List[Note], float]:
    """(notes cut at max_seconds, the tune's full length in seconds) of a parsed tune; SongError if it has none."""
    midi, report, notes = parsed
    if midi is None:
        raise SongError(f"not playable: {report.errors[0] if report.errors else 'the parser failed'}")
    kept = cap_notes(notes, max_seconds)
    if not kept:
        raise SongError("no notes: the tune parsed but has nothing to play")
    return kept, report.seconds


def _notes_and_length(song, backend: str, max_seconds: float) -> Tuple[List[Note], float]:
    """(notes cut at max_seconds, the tune's full length in seconds); SongError if it has none."""
    return _playable(_parse(song, backend), max_seconds)


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
    return _audio(notes, synth, max_seconds, sample_rate), full_seconds


def _audio(notes: List[Note], synth: str, max_seconds: float, sample_rate: int) -> np.ndarray:
    """The notes as mono float32 audio, at most max_seconds long, with the chosen synthesizer."""
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
    return audio[: int(max_seconds * sample_rate)]  # the cap bounds the file size too


def abc_to_midi(song, path: PathLike, backend: str = "auto", overwrite: bool = False) -> Path:
    """Write the tune as a MIDI file at `path` (atomically) and return the path; SongError if it does
    not parse, FileExistsError if `path` exists and not `overwrite`."""
    path = check_output(path, overwrite)
    midi, report, notes = _parse(song, backend)
    if midi is None:
        raise SongError(f"not playable: {report.errors[0] if report.errors else 'the parser failed'}")
    return atomic_write_bytes(path, lambda handle: handle.write(midi))


def abc_to_wav(song, path: PathLike, backend: str = "auto", synth: str = "auto",
               max_seconds: float = MAX_SECONDS, sample_rate: int = SAMPLE_RATE, overwrite: bool = False) -> Path:
    """Write the tune as a mono 16-bit WAV at `path` (atomically) and return the path; SongError if
    unplayable, FileExistsError if `path` exists and not `overwrite`."""
    path = check_output(path, overwrite)
    return write_audio_file(path, render_song(song, backend, synth, max_seconds, sample_rate), sample_rate, ".wav")


def save_song(song, path: PathLike, **options) -> Path:
    """Save a tune as WAV (same as abc_to_wav; overwrite=True to replace an existing file)."""
    return abc_to_wav(song, path, **options)


def play_song(song, backend: str = "auto", synth: str = "auto", max_seconds: float = MAX_SECONDS):
    """An IPython Audio player for the tune (Ogg Vorbis inside where soundfile is installed, else WAV),
    or None after printing one line saying why it cannot play."""
    from IPython.display import Audio

    try:
        audio, full_seconds = _render(song, backend, synth, max_seconds, SAMPLE_RATE)
    except SongError as error:
        print(f"Cannot play this tune: {error}")
        return None
    if full_seconds > max_seconds:
        print(f"The tune lasts {full_seconds:.0f} s: playing the first {max_seconds:g} s (max_seconds).")
    if not ogg_available():
        return Audio(audio, rate=SAMPLE_RATE)
    player = Audio(data=encode_audio(audio, SAMPLE_RATE, ".ogg"))  # a tenth of the WAV in the saved notebook
    player.mimetype = MIME_TYPES[".ogg"]  # IPython calls bytes audio/wav; the data URI must say what they are
    return player


@dataclass
class WavResult:
    """What write_wavs / write_audio did with one tune: the file's path, or None and the reason."""

    index: int
    path: Optional[Path]
    reason: str = ""


def write_wavs(songs: Sequence[str], folder: PathLike, backend: str = "auto", synth: str = "auto",
               max_seconds: float = MAX_SECONDS, overwrite: bool = True) -> List[WavResult]:
    """Write folder/tune_NN.wav for each playable tune; one WavResult per tune, in order.

    The names are write_wavs' own, so by default it replaces them (a notebook cell run twice);
    with overwrite=False an existing tune_NN.wav is kept and reported as the reason."""
    return _write_tunes(songs, folder, ".wav", backend, synth, max_seconds, overwrite)


def write_audio(songs: Sequence[str], folder: PathLike, backend: str = "auto", synth: str = "auto",
                max_seconds: float = MAX_SECONDS, overwrite: bool = True) -> List[WavResult]:
    """Like write_wavs, in the compact format this machine writes: folder/tune_NN.ogg (Ogg Vorbis,
    through soundfile), else tune_NN.wav (labutils.music.audiofile)."""
    return _write_tunes(songs, folder, audio_suffix(), backend, synth, max_seconds, overwrite)


def _write_tunes(songs: Sequence[str], folder: PathLike, suffix: str, backend: str, synth: str,
                 max_seconds: float, overwrite: bool) -> List[WavResult]:
    """folder/tune_NN<suffix> for each playable tune; one WavResult per tune, in order."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for index, song in enumerate(songs):
        path = folder / f"tune_{index:02d}{suffix}"
        try:
            path = check_output(path, overwrite)
            audio = render_song(song, backend, synth, max_seconds, SAMPLE_RATE)
            results.append(WavResult(index, write_audio_file(path, audio, SAMPLE_RATE)))
        except (SongError, FileExistsError) as error:
            results.append(WavResult(index, None, str(error)))
    return results


def _play_parser() -> argparse.ArgumentParser:
    """The arguments of `python -m labutils play`."""
    parser = argparse.ArgumentParser(allow_abbrev=False, prog="python -m labutils play",
                                     description="Check an ABC tune and write it as a WAV file.")
    parser.add_argument("tune", help="an .abc file (the first tune in it, or --index)")
    parser.add_argument("--out", help="WAV file to write (default: TUNE with .wav in place of .abc)")
    parser.add_argument("--index", type=int, default=0, help="which tune of the file (default 0)")
    parser.add_argument("--backend", choices=["auto", "abc2midi", "music21"], default="auto")
    parser.add_argument("--synth", choices=["auto", "numpy", "timidity"], default="auto")
    parser.add_argument("--max-seconds", type=float, default=MAX_SECONDS,
                        help=f"audio length cap, in (0, 600] (default {MAX_SECONDS:g})")
    parser.add_argument("--force", action="store_true", help="replace the output file if it exists")
    parser.add_argument("--check", action="store_true", help="print the report only, write nothing")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """`python -m labutils play TUNE.abc [--out F.wav]`: check a tune and write it as WAV."""
    args = _play_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    from labutils.data import read_abc_text, split_tunes

    source = Path(args.tune)
    if not source.is_file():
        print(f"error: no such file: {str(source)!r}", file=sys.stderr)
        return 2
    if not 0 < args.max_seconds <= 600:
        print(f"error: --max-seconds must be in (0, 600], got {args.max_seconds:g}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else source.with_suffix(".wav")
    if not args.check:
        try:  # before any work, so a bad --out costs nothing and changes nothing
            check_output(out, args.force, inputs=[source], flag="--force")
        except OSError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    text = read_abc_text(source)
    tunes = split_tunes(text) or [text]
    if not 0 <= args.index < len(tunes):
        print(f"error: --index {args.index} but the file has {len(tunes)} tune(s)", file=sys.stderr)
        return 2
    try:  # parsed once: the time limit of a parser holds for the whole command
        parsed: Optional[Tuple] = _parse(tunes[args.index], args.backend)
        report = parsed[1]
    except SongError as error:
        parsed, report = None, TuneReport(False, args.backend, [str(error)])
    state = "clean" if report.clean else ("parsed" if report.parsed else "not parsed")
    print(f"{source.name} tune {args.index}: {state}, {report.notes} notes, {report.seconds:.1f} s, "
          f"{report.bad_bars} bar(s) of the wrong length ({report.backend})")
    for problem in report.errors[:5]:
        print(f"  error: {problem}")
    if args.check:
        return 0 if report.clean else 1
    try:
        if parsed is None:
            raise SongError(f"not playable: {report.errors[0]}")
        check_output(out, args.force, inputs=[source], flag="--force")
        audio = _audio(_playable(parsed, args.max_seconds)[0], args.synth, args.max_seconds, SAMPLE_RATE)
        write_audio_file(out, audio, SAMPLE_RATE, ".wav")
    except SongError as error:
        print(f"Cannot play this tune: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {out} (this command plays nothing itself: open the WAV in a media player, "
          "or use play_song in a notebook)")
    return 0

