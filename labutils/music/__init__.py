"""Listen to and look at tunes: check a tune, ABC -> MIDI -> WAV, play it, draw it, move its key.

    from labutils.music import play_song, check_tune, show_sheet
    play_song(tune)      # an audio player in the notebook, or one line saying why it cannot play
    check_tune(tune)     # parsed?, errors, bars of the wrong length, notes, seconds

Two steps make a sound, each with a pip-only fallback:

1. ABC -> MIDI (`abc.py`). `abc2midi` (Debian package `abcmidi`) when installed: fast, the
   whole ABC standard, and its bar-length warnings feed `check_tune`. Otherwise music21's ABC
   parser (pure Python; slower, so it reads at most a few hundred bars).
2. MIDI -> sound (`synth.py`). `timidity` with `fluid-soundfont-gm`, the sound font Debian's
   timidity config names. Otherwise a small numpy synthesizer (a few harmonics, a plucked
   envelope, 22 kHz mono). `synth="timidity"` also works with `freepats` alone (through a
   config written in a temporary folder), but timidity then pauses on every call, so
   `synth="auto"` takes numpy there.

Choose explicitly with `backend="abc2midi"|"music21"` and `synth="timidity"|"numpy"`. Audio
stops after `max_seconds` (120 s by default); every external program runs with a timeout in
its own temporary folder; nothing is written unless a path is given (`save_song(tune,
"tune.wav")`). `write_audio(tunes, folder)` writes Ogg Vorbis where `soundfile` is installed
(`audiofile.py`: a tenth of a WAV's size), else WAV; `play_song` embeds the same.
`clean_rate(songs)` is the share of clean tunes (no error, every bar the meter's length). `show_sheet(tune)` draws sheet music with `abcm2ps` when installed, else a
piano roll (`display.py`). `transpose.transpose_tune(tune, semitones)` moves a tune into
another key, and `keys.tradition_copies(tunes)` into the keys the tradition plays (the training
data's transposed copies); `played.write_as_played(tune)` writes its repeats out. `RhythmState` (`rhythm/`) reads a tune one
character at a time as abc2midi does: how full the bar is, which bars are wrong, what a repeat
plays again (labutils.guided samples with it). Does it sound like a tune? `tune_form(tune)` reads
its form (parts, repeats, last notes, returning phrases: `form.py`, over the bars `bars.py` reads),
`form_layout(tune)` lays its bars out by part, `form_table({"real": songs, "mine": tunes})`
compares groups of tunes, and `tune_quality` carries the same figures. From a shell:
`python -m labutils play TUNE.abc --out tune.wav`.
"""
from labutils import submodule_loader
from labutils.music.abc import MAX_CHARS, TuneReport
from labutils.music.common import SongError, say_pure_python_once
from labutils.music.display import piano_roll, sheet_svg, show_sheet
from labutils.music.play import (
                                 WavResult,
                                 abc_to_midi,
                                 abc_to_wav,
                                 available_tools,
                                 check_corpus,
                                 check_tune,
                                 clean_rate,
                                 main,
                                 play_song,
                                 render_song,
                                 save_song,
                                 song_notes,
                                 write_audio,
                                 write_wavs,
)
from labutils.music.synth import MAX_SECONDS, SAMPLE_RATE

__all__ = ["SongError", "TuneReport", "WavResult", "MAX_CHARS", "MAX_SECONDS", "SAMPLE_RATE",
           "available_tools", "say_pure_python_once", "check_tune", "check_corpus", "clean_rate",
           "song_notes", "render_song", "abc_to_midi", "abc_to_wav", "save_song", "play_song",
           "write_wavs", "write_audio", "piano_roll", "sheet_svg", "show_sheet", "main"]
from labutils.music.form import form_layout, form_summary, form_table, tune_form
from labutils.music.quality import COPY_RUN, CopyIndex, best_tunes, quality_summary, real_form, tune_quality
from labutils.music.rhythm import RhythmState

__all__ += ["COPY_RUN", "CopyIndex", "best_tunes", "quality_summary", "real_form", "tune_quality", "RhythmState",
            "tune_form", "form_summary", "form_table", "form_layout"]

MODULES = ("abc", "audiofile", "bars", "common", "display", "form", "keys", "play", "played", "quality",
           "rhythm", "synth", "transpose")
__getattr__, __dir__ = submodule_loader(__name__, MODULES)
