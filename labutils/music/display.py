"""Look at a tune: sheet music from abcm2ps, or a piano roll drawn with matplotlib."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from labutils.music.abc import prepare_tune
from labutils.music.common import TOOL_TIMEOUT_S, SongError, tool_path
from labutils.music.play import song_notes
from labutils.music.synth import MAX_SECONDS, Note


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
