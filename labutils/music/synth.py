"""MIDI bytes -> note events -> audio samples (numpy synthesis, or timidity when configured)."""
from __future__ import annotations

import bisect
import io
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import numpy as np

from labutils.music.common import TOOL_TIMEOUT_S, SongError, tool_path

SAMPLE_RATE = 22_050
MAX_SECONDS = 120.0  # a tune of `A99999` lasts hours as written; we play the first two minutes
MAX_NOTES = 5_000  # a tune has a few hundred; this bounds the synthesis time
RELEASE_S = 0.08  # fade-out after a note ends
HARMONICS = (1.0, 0.45, 0.25, 0.12, 0.06)  # relative loudness of partials 1..5: a soft, reedy tone

# Where Debian/Ubuntu put the sound fonts timidity can use.
FLUID_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
FREEPATS_DIR = Path("/usr/share/midi/freepats")
FREEPATS_CFG = Path("/etc/timidity/freepats.cfg")


@dataclass
class Note:
    """One sounding note: start and end in seconds, MIDI pitch (60 = middle C), velocity 1..127."""

    start: float
    end: float
    pitch: int
    velocity: int


def midi_notes(midi: bytes) -> List[Note]:
    """Read the note events of a MIDI file (bytes) in time order, tempo changes applied."""
    import mido

    try:
        song = mido.MidiFile(file=io.BytesIO(midi))
    except (OSError, ValueError, EOFError, KeyError, IndexError) as error:
        raise SongError(f"unreadable MIDI from the parser: {error}") from None
    events, tempos = [], [(0, 500_000)]  # (tick, microseconds per beat); MIDI's default is 120 bpm
    for track in song.tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "set_tempo":
                tempos.append((tick, message.tempo))
            elif message.type in ("note_on", "note_off"):
                velocity = message.velocity if message.type == "note_on" else 0
                events.append((tick, velocity, message.channel, message.note))
    tempos.sort(key=lambda change: change[0])  # stable: a file's tempo at tick 0 replaces the default
    events.sort(key=lambda event: (event[0], event[1] > 0))  # at one tick, note ends before starts
    per_tick = [tempo / (1e6 * song.ticks_per_beat) for _, tempo in tempos]  # seconds per tick
    change_ticks, change_seconds = [0], [0.0]  # where each tempo starts, in ticks and in seconds
    for i in range(1, len(tempos)):
        change_seconds.append(change_seconds[-1] + (tempos[i][0] - change_ticks[-1]) * per_tick[i - 1])
        change_ticks.append(tempos[i][0])

    def seconds(tick: int) -> float:
        i = bisect.bisect_right(change_ticks, tick) - 1
        return change_seconds[i] + (tick - change_ticks[i]) * per_tick[i]

    notes, sounding, last = [], {}, 0
    for tick, velocity, channel, pitch in events:
        last = tick
        if velocity > 0:
            sounding.setdefault((channel, pitch), []).append((tick, velocity))
        elif sounding.get((channel, pitch)):
            begin, start_velocity = sounding[(channel, pitch)].pop(0)
            notes.append((begin, tick, pitch, start_velocity))
    for (_, pitch), starts in sounding.items():  # notes never released end with the file
        notes += [(begin, max(last, begin + 1), pitch, velocity) for begin, velocity in starts]
    result = [Note(seconds(begin), seconds(end), pitch, velocity) for begin, end, pitch, velocity in notes]
    result.sort(key=lambda note: (note.start, note.pitch))
    return result


def cap_notes(notes: List[Note], max_seconds: float = MAX_SECONDS) -> List[Note]:
    """Keep what sounds in the first `max_seconds` (notes cut at the cap), at most MAX_NOTES notes."""
    kept = [Note(n.start, min(n.end, max_seconds), n.pitch, n.velocity)
            for n in notes if n.start < max_seconds and n.end > n.start]
    return kept[:MAX_NOTES]


def synthesize(notes: List[Note], sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Render notes as a mono float32 signal in [-1, 1]: a few harmonics, attack and decay, normalised."""
    if not notes:
        return np.zeros(0, dtype=np.float32)
    length = int((max(n.end for n in notes) + RELEASE_S) * sample_rate) + 1
    audio = np.zeros(length, dtype=np.float32)
    attack = int(0.01 * sample_rate)
    for note in notes:
        frequency = 440.0 * 2.0 ** ((note.pitch - 69) / 12.0)
        held = max(int((note.end - note.start) * sample_rate), attack + 1)
        total = held + int(RELEASE_S * sample_rate)
        t = np.arange(total, dtype=np.float32) / sample_rate
        tone = np.zeros(total, dtype=np.float32)
        for k, loudness in enumerate(HARMONICS, start=1):
            if k * frequency < sample_rate / 2:  # skip partials above Nyquist (they would alias)
                tone += loudness * np.sin(2 * np.pi * k * frequency * t, dtype=np.float32)
        envelope = np.exp(-2.5 * t)  # plucked: loud at the start, decaying
        envelope[:attack] *= np.linspace(0.0, 1.0, attack, dtype=np.float32)
        envelope[held:] *= np.linspace(1.0, 0.0, total - held, dtype=np.float32)
        begin = int(note.start * sample_rate)
        piece = (tone * envelope * (note.velocity / 127.0))[: length - begin]
        audio[begin : begin + len(piece)] += piece
    return normalise(audio)


def normalise(audio: np.ndarray, peak: float = 0.9) -> np.ndarray:
    """Scale a signal so its loudest sample is `peak` (silence stays silence)."""
    loudest = float(np.max(np.abs(audio))) if audio.size else 0.0
    return (audio * (peak / loudest)).astype(np.float32) if loudest > 0 else audio.astype(np.float32)


def notes_to_midi(notes: List[Note]) -> bytes:
    """Write notes back to a one-track MIDI file (120 bpm, 480 ticks a beat)."""
    import mido

    events = []
    for note in notes:
        events.append((note.start, 1, mido.Message("note_on", note=note.pitch, velocity=note.velocity)))
        events.append((note.end, 0, mido.Message("note_off", note=note.pitch, velocity=0)))
    events.sort(key=lambda event: (event[0], event[1]))
    track, last_tick = mido.MidiTrack(), 0
    for seconds, _, message in events:
        tick = int(round(mido.second2tick(seconds, 480, 500_000)))
        track.append(message.copy(time=tick - last_tick))
        last_tick = tick
    song = mido.MidiFile(ticks_per_beat=480)
    song.tracks.append(track)
    buffer = io.BytesIO()
    song.save(file=buffer)
    return buffer.getvalue()


def timidity_config() -> Optional[str]:
    """Extra timidity config text for this machine: "" (its default works), freepats, or None."""
    if FLUID_SOUNDFONT.is_file():
        return ""  # Debian's default config uses FluidR3_GM (package fluid-soundfont-gm)
    if FREEPATS_CFG.is_file() and FREEPATS_DIR.is_dir():
        # freepats alone: the default config still names the missing FluidR3 font, so ours,
        # read after it, maps every instrument to a freepats patch instead.
        return f"dir {FREEPATS_DIR}\nsource {FREEPATS_CFG}\n"
    return None


def timidity_ready() -> bool:
    """True when timidity is on PATH and a sound font for it was found."""
    return tool_path("timidity") is not None and timidity_config() is not None


def timidity_preferred() -> bool:
    """True when timidity's own config works, the case where synth="auto" uses it.

    With freepats alone, timidity first reads Debian's config, which names the missing
    FluidR3 font, and pauses after that error on every call: numpy is then much faster.
    """
    return tool_path("timidity") is not None and timidity_config() == ""


def timidity_render(notes: List[Note], sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Render notes with timidity in a temporary folder; mono float32, normalised. SongError on failure."""
    from scipy.io import wavfile

    program, config = tool_path("timidity"), timidity_config()
    if program is None or config is None:
        raise SongError("timidity is not usable: apt install timidity fluid-soundfont-gm (or freepats)")
    with tempfile.TemporaryDirectory(prefix="labutils-timidity-") as folder:
        midi_file, wav_file = Path(folder) / "tune.mid", Path(folder) / "tune.wav"
        midi_file.write_bytes(notes_to_midi(notes))
        command = [program, "-Ow", "--output-mono", "-s", str(sample_rate), "-o", str(wav_file)]
        if config:
            (Path(folder) / "sounds.cfg").write_text(config)
            command += ["-c", str(Path(folder) / "sounds.cfg")]
        try:
            subprocess.run(command + [str(midi_file)], cwd=folder, capture_output=True,
                           timeout=TOOL_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise SongError(f"timidity took over {TOOL_TIMEOUT_S} s") from None
        if not wav_file.is_file():
            raise SongError("timidity wrote no audio (is a sound font installed?)")
        rate, samples = wavfile.read(wav_file)
    samples = samples.astype(np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if rate != sample_rate or not np.any(samples):
        raise SongError("timidity produced silence (no instrument found in its sound font)")
    end = int((max(n.end for n in notes) + 1.0) * sample_rate)  # drop timidity's long silent tail
    return normalise(samples[:end])
