"""Tests of labutils.music: playback through every backend, bad inputs, checks, sheet music, CLI."""
import base64
import io
import os
import random
import re
import stat
import tempfile

import numpy as np
import pytest
from scipy.io import wavfile

from labutils import music
from labutils.data import load_training_data
from labutils.music import abc as music_abc
from labutils.music import audiofile
from labutils.music import common as music_common
from labutils.music import play as music_play
from labutils.music import synth as music_synth

HEADER = "X:1\nT:Test\nM:4/4\nL:1/8\nK:D\n"
HAS_ABC2MIDI = music.available_tools()["abc2midi"]
HAS_TIMIDITY = music.available_tools()["timidity"]
HAS_ABCM2PS = music.available_tools()["abcm2ps"]
needs_abc2midi = pytest.mark.skipif(not HAS_ABC2MIDI, reason="abc2midi not installed (apt install abcmidi)")
needs_timidity = pytest.mark.skipif(not HAS_TIMIDITY, reason="timidity with a sound font not installed")
needs_abcm2ps = pytest.mark.skipif(not HAS_ABCM2PS, reason="abcm2ps not installed")

# (parser, synthesizer) pairs that must play every tune of the collection.
ROUTES = [pytest.param("abc2midi", "numpy", marks=needs_abc2midi),
          pytest.param("abc2midi", "timidity", marks=[needs_abc2midi, needs_timidity]),
          pytest.param("music21", "numpy")]

# Inputs a student (or an untrained model) can produce; each must give a clear outcome quickly.
_rng = random.Random(0)
BAD_INPUTS = {
    "empty": "",
    "whitespace": " \n\t  \n",
    "binary junk": bytes(range(256)).decode("latin-1") * 4,
    "random characters": "".join(_rng.choice("ABCabc|:[]()^_=,'/0123456789zK: \n") for _ in range(2000)),
    "random music": HEADER + "".join(_rng.choice("ABCDEFGabcdefg|:[]()^_=,'/23z \n") for _ in range(1500)),
    "missing X:": "T:No number\nM:4/4\nK:D\nABcd efga|",
    "missing K:": "X:1\nT:No key\nM:4/4\nABcd efga|",
    "truncated header": "X:1\nT:Cut\nK:",
    "truncated tune": HEADER + "ABcd ef",
    "unclosed repeat": HEADER + "|: ABcd efga | gfed cB",
    "unclosed chord": HEADER + "[ABc d2 e|",
    "huge note length": HEADER + "A99999|]",
    "absurd tuplets": HEADER + "(99999ABC|(0ABC|(3:2:99999 ABC|",
    "thousands of bars on one line": HEADER + "A|" * 5000,
    "too long": HEADER + "ABcd efga|" * 3000,
}


@pytest.fixture(scope="module")
def songs():
    return load_training_data()


@pytest.fixture(autouse=True)
def private_tempdir(tmp_path, monkeypatch):
    """Run each test with its own temp folder and working folder, to see what gets left behind."""
    scratch, workdir = tmp_path / "tmp", tmp_path / "cwd"
    scratch.mkdir()
    workdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.chdir(workdir)
    yield
    assert os.listdir(scratch) == [], "temporary folders were left behind"
    assert os.listdir(workdir) == [], "files were written into the working folder"


@pytest.fixture
def no_tools(tmp_path, monkeypatch):
    """PATH without abc2midi, timidity or abcm2ps: the pip-only machine."""
    empty = tmp_path / "emptybin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(music_common, "_said_pure_python", False)


def fake_tool(folder, name, script):
    """Put an executable shell script called `name` in `folder` (for failure tests)."""
    path = folder / name
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def read_wav(path):
    rate, samples = wavfile.read(path)
    return rate, samples, len(samples) / rate, np.abs(samples.astype(np.float64)).max() / 32767


def dominant_hz(audio, rate):
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return np.fft.rfftfreq(len(audio), 1 / rate)[np.argmax(spectrum)]


# --- playback of real tunes -------------------------------------------------------------


@pytest.mark.parametrize("backend,synth", ROUTES)
def test_first_song_writes_a_sensible_wav(songs, tmp_path, backend, synth):
    path = music.abc_to_wav(songs[0], tmp_path / "alexanders.wav", backend=backend, synth=synth)
    rate, samples, seconds, peak = read_wav(path)
    assert rate == music.SAMPLE_RATE and samples.ndim == 1 and samples.dtype == np.int16
    assert 60 <= seconds <= 70  # the hornpipe with its repeats lasts 64 s at the default tempo
    assert 0.8 <= peak <= 0.95  # normalised, not clipped
    assert np.abs(samples[: rate * 2]).max() > 1000  # it sounds from the start


@pytest.mark.parametrize("backend,synth", ROUTES)
def test_sample_of_the_collection_plays(songs, backend, synth):
    for song in songs[::40]:  # 21 tunes spread over the collection
        audio = music.render_song(song, backend=backend, synth=synth)
        seconds = len(audio) / music.SAMPLE_RATE
        assert 3 < seconds <= music.MAX_SECONDS, song[:40]
        assert np.isfinite(audio).all() and 0.8 <= np.abs(audio).max() <= 0.95, song[:40]


@pytest.mark.slow
@pytest.mark.parametrize("backend,synth", ROUTES)
def test_whole_collection_plays(songs, backend, synth):
    failed = []
    for index, song in enumerate(songs):
        try:
            audio = music.render_song(song, backend=backend, synth=synth)
        except music.SongError as error:
            failed.append((index, str(error)))
            continue
        if not (1 < len(audio) / music.SAMPLE_RATE <= music.MAX_SECONDS and np.abs(audio).max() > 0.5):
            failed.append((index, "bad audio"))
    assert failed == [], failed[:5]


@pytest.mark.parametrize("synth", ["numpy", pytest.param("timidity", marks=needs_timidity)])
def test_pitch_is_right(synth):
    audio = music.render_song("X:1\nL:1/4\nK:C\nA4|]", backend="music21", synth=synth)
    assert abs(dominant_hz(audio, music.SAMPLE_RATE) - 440.0) < 5  # A4 sounds at 440 Hz


def test_play_song_returns_an_audio_player(songs):
    from IPython.display import Audio

    player = music.play_song(songs[0], synth="numpy")
    assert isinstance(player, Audio)
    found = re.search(r'src="data:(audio/\w+);base64,([^"]+)"', player._repr_html_())
    data = base64.b64decode(found.group(2))
    if audiofile.ogg_available():  # Ogg Vorbis, labelled so, that soundfile decodes
        import soundfile

        assert found.group(1) == "audio/ogg" and data[:4] == b"OggS"
        decoded, rate = soundfile.read(io.BytesIO(data))
        assert rate == music.SAMPLE_RATE and len(decoded) > 10 * rate and np.abs(decoded).max() > 0.1
    else:
        assert found.group(1) == "audio/wav" and data[:4] == b"RIFF" and len(data) > 100_000


def test_save_song_and_midi_file(songs, tmp_path):
    wav = music.save_song(songs[1], tmp_path / "tune.wav", synth="numpy")
    midi = music.abc_to_midi(songs[1], tmp_path / "tune.mid")
    assert read_wav(wav)[2] > 10
    assert midi.read_bytes()[:4] == b"MThd"


def test_file_name_with_spaces_and_shell_characters(songs, tmp_path):
    folder = tmp_path / "my music $HOME; `ls` & 'more'"
    folder.mkdir()
    wav = music.abc_to_wav(songs[0], folder / "tune (1) | rm -rf *.wav", synth="auto")
    midi = music.abc_to_midi(songs[0], folder / 'a "quoted" tune.mid')
    assert wav.is_file() and read_wav(wav)[2] > 60
    assert midi.is_file() and sorted(p.name for p in folder.iterdir()) == sorted([wav.name, midi.name])


# --- bounds -----------------------------------------------------------------------------


@needs_abc2midi
def test_huge_note_is_capped(tmp_path, capsys):
    path = music.abc_to_wav(HEADER + "A99999|]", tmp_path / "long.wav", backend="abc2midi", synth="numpy")
    rate, samples, seconds, _ = read_wav(path)
    assert seconds == pytest.approx(music.MAX_SECONDS, abs=0.01)
    assert path.stat().st_size <= music.MAX_SECONDS * rate * 2 + 100
    assert music.check_tune(HEADER + "A99999|]", "abc2midi").seconds > 10_000  # the report says how long it is
    player = music.play_song(HEADER + "A99999|]", backend="abc2midi", synth="numpy", max_seconds=5)
    assert player is not None and "playing the first 5 s" in capsys.readouterr().out


@pytest.mark.parametrize("tune, words", [
    (HEADER + "A99999|]", "lasts 12499.9 whole notes"),
    ("X:1\nT:t\nM:4/4\nK:C\nC99999999|C/99999999|\n", "'C99999999' lasts"),  # 44 s and 3 GB before
    (HEADER + "[C999E]|C|", "'C999' lasts"),
    ("X:1\nT:t\nM:4/4\nL:16/1\nK:C\nC|C|\n", "L:16/1"),
    (HEADER + "C127|" * 13 + "C|", "about 206 bars"),
    ("X:1\nT:t\nM:1/64\nL:1/8\nK:C\nC8|C8|C8|C8|\n", "about 256 bars"),
])
def test_note_lengths_music21_cannot_take_are_refused_before_it_reads_them(tune, words, monkeypatch):
    import music21

    monkeypatch.setattr(music21.converter, "parseData", lambda *a, **k: pytest.fail("music21 was given the tune"))
    report = music.check_tune(tune, "music21")
    assert not report.parsed and words in report.errors[0] and len(report.errors) == 1, report.errors
    assert music.play_song(tune, backend="music21") is None


def test_max_seconds_is_configurable_and_checked(songs):
    assert len(music.render_song(songs[0], synth="numpy", max_seconds=7.5)) == int(7.5 * music.SAMPLE_RATE)
    with pytest.raises(ValueError, match="max_seconds"):
        music.render_song(songs[0], max_seconds=10_000)
    with pytest.raises(ValueError, match="synth"):
        music.render_song(songs[0], synth="fluidsynth")
    with pytest.raises(ValueError, match="backend"):
        music.render_song(songs[0], backend="lilypond")


@pytest.mark.parametrize("backend", [pytest.param("abc2midi", marks=needs_abc2midi), "music21"])
@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_has_a_clear_outcome(name, backend, capsys):
    text = BAD_INPUTS[name]
    player = music.play_song(text, backend=backend, synth="numpy")
    report = music.check_tune(text, backend)
    printed = capsys.readouterr().out
    if player is None:  # refused: one line saying why, and a report that says the same
        assert printed.startswith("Cannot play this tune: ") and len(printed.strip().splitlines()) == 1
        assert not report.clean and report.errors
    else:  # played: within the cap
        assert len(player.data) <= music.MAX_SECONDS * music.SAMPLE_RATE * 2 + 100
    expected_refusals = {"empty", "whitespace", "binary junk", "random characters", "missing X:",
                         "missing K:", "truncated header", "too long"}
    if name in expected_refusals:
        assert player is None
    if name in {"truncated tune", "unclosed repeat"} or name == "huge note length" and backend == "abc2midi":
        assert player is not None
    if name == "huge note length" and backend == "music21":  # music21 is not given notes longer than a bar
        assert player is None and "whole notes" in printed


def test_reasons_name_the_problem(capsys):
    assert music.play_song("") is None
    assert "empty" in capsys.readouterr().out
    assert music.play_song("hello, world") is None
    assert "X:" in capsys.readouterr().out
    assert music.play_song("X:1\nT:t\nABC|") is None
    assert "K:" in capsys.readouterr().out
    assert music.play_song("X:1\nT:t\nK:D\n% only a comment\n") is None
    assert "no notes" in capsys.readouterr().out
    assert music.play_song(BAD_INPUTS["too long"]) is None
    assert "too long" in capsys.readouterr().out
    with pytest.raises(TypeError):
        music.play_song(42)


def test_only_the_first_tune_of_a_text_is_played(songs):
    both = music.check_tune(songs[0] + "\n\n" + songs[1])
    assert both.notes == music.check_tune(songs[0]).notes


def test_music21_input_is_bounded():
    report = music.check_tune(HEADER + "ABcd efga|" * 1000, backend="music21")
    assert report.parsed and any("only the first" in w for w in report.warnings)


# --- validity of tunes ------------------------------------------------------------------


@needs_abc2midi
def test_every_tune_of_the_collection_fits_the_limits(songs):
    from labutils.music.quality import tune_body
    from labutils.music.rhythm import meter_length

    assert max(len(song) for song in songs) * 10 < music.MAX_CHARS
    assert max(len(tune_body(song)) for song in songs) * 2 < music_abc.MUSIC21_MAX_BODY_CHARS
    meters = [meter_length(value) for song in songs for value in re.findall(r"M:([^\]\n]*)", song)]
    assert meters and max(m for m in meters if m is not None) * 4 < music_abc.MAX_BAR_WHOLE_NOTES
    for song in songs:  # what music21 is given: each tune far from the note-length limits
        music_abc._check_lengths(song, song.index("K:"))
    lengths = [length for song in songs for length, _ in music_abc.note_lengths(song, song.index("K:"))]
    assert max(lengths) * 4 < music_abc.MAX_NOTE_WHOLE_NOTES


def test_read_abc2midi_output():
    output = ("Warning in line-char 6-12 : Track 0 Bar 1 has 7/2 time units while the time signature has 4\n"
              "Warning in line-char 6-40 : Track 0 Bar 1 has 7/2 time units while the time signature has 4 "
              "in repeat\n"
              "Warning in line-char 7-35 : Track 0 Bar 3 has 5 time units while the time signature has 4\n"
              "Error in line-char 8-2 : Only tuples (2 - (9 allowed\n"
              "Warning in line-char 11-43 : Assuming repeat\n")
    errors, bad_bars, warnings = music_abc.read_abc2midi_output(output)
    assert bad_bars == 2  # bar 1 counted once though reported again in the repeat
    assert errors == ["line 8: Only tuples (2 - (9 allowed"]
    assert warnings == ["line 11: Assuming repeat"]


@pytest.mark.parametrize("backend", [pytest.param("abc2midi", marks=needs_abc2midi), "music21"])
def test_check_tune_counts_bad_bars_but_not_the_pickup(backend):
    good = music.check_tune(HEADER + "AB|cdef gfed|cdef gfed|cdef gfed|]", backend)
    bad = music.check_tune(HEADER + "AB|cdef gfe|cdef gfed|cdef gfedc|cdef gfed|]", backend)
    assert good.clean and good.parsed and good.bad_bars == 0 and good.notes == 26
    assert good.seconds == pytest.approx(6.5, abs=0.1)  # 13 quarter notes at 120 a minute
    assert not bad.clean and bad.bad_bars == 2 and bad.errors == []


@needs_abc2midi
def test_clean_rate_of_the_collection_with_abc2midi(songs):
    reports = music.check_corpus(songs, backend="abc2midi")
    clean = sum(report.clean for report in reports)
    assert all(report.parsed for report in reports)
    assert abs(clean - 729) <= 8, clean  # measured: 729 of 804 (90.7%); the rest have [N or odd bars
    assert music.clean_rate(songs[:50], backend="abc2midi") == pytest.approx(
        sum(r.clean for r in reports[:50]) / 50)


def test_clean_rate_with_music21_on_a_sample(songs):
    reports = music.check_corpus(songs[::20], backend="music21")
    assert all(report.parsed for report in reports)
    assert abs(sum(report.clean for report in reports) - 36) <= 2  # measured: 36 of these 41


@pytest.mark.slow
def test_clean_rate_of_the_collection_with_music21(songs):
    reports = music.check_corpus(songs, backend="music21")
    clean = sum(report.clean for report in reports)
    assert sum(report.parsed for report in reports) == len(songs)
    # measured: 779 of 804 (96.9%); music21 accepts the [N endings abc2midi calls errors
    assert abs(clean - 779) <= 8, clean


def test_clean_rate_needs_tunes():
    with pytest.raises(ValueError):
        music.clean_rate([])


# --- without the apt tools --------------------------------------------------------------


def test_without_tools_everything_still_works(songs, no_tools, tmp_path, capsys):
    assert music.available_tools() == {"abc2midi": False, "timidity": False, "abcm2ps": False}
    assert music.play_song(songs[0]) is not None
    assert music.play_song(songs[1]) is not None
    printed = capsys.readouterr().out
    assert printed.count("abc2midi not found: using the pure-Python path") == 1
    report = music.check_tune(songs[0])
    assert report.backend == "music21" and report.clean and report.notes > 100
    figure = music.show_sheet(songs[0])
    assert figure.__class__.__name__ == "Figure"
    assert music.write_wavs([songs[2]], tmp_path / "wavs")[0].path.is_file()
    assert music.check_tune(songs[0], backend="abc2midi").errors[0].startswith("abc2midi is not installed")
    with pytest.raises(music.SongError, match="timidity"):
        music.render_song(songs[0], synth="timidity")


@needs_timidity
def test_timidity_with_freepats_only(songs, monkeypatch):
    monkeypatch.setattr(music_synth, "FLUID_SOUNDFONT", music_synth.FLUID_SOUNDFONT.with_name("missing.sf2"))
    if not music_synth.FREEPATS_CFG.is_file():
        pytest.skip("freepats not installed")
    assert "freepats" in music_synth.timidity_config()
    audio = music.render_song(songs[0], backend="music21", synth="timidity", max_seconds=10)
    assert np.abs(audio).max() > 0.5
    # "auto" leaves this slow timidity (a 1 s pause per call) for the numpy synthesizer
    auto = music.render_song(songs[0], backend="music21", max_seconds=10)
    assert np.array_equal(auto, music.render_song(songs[0], backend="music21", synth="numpy", max_seconds=10))
    assert not np.array_equal(auto[:len(audio)], audio[:len(auto)])


@needs_timidity
def test_auto_uses_timidity_when_its_own_config_works(songs, monkeypatch):
    monkeypatch.setattr(music_synth, "timidity_config", lambda: "")
    monkeypatch.setattr(music_play, "timidity_render", lambda notes, rate: np.full(rate, 0.25, np.float32))
    assert np.all(music.render_song(songs[0], backend="music21", max_seconds=10) == 0.25)


def test_timidity_without_any_sound_font(songs, monkeypatch):
    monkeypatch.setattr(music_synth, "FLUID_SOUNDFONT", music_synth.FLUID_SOUNDFONT.with_name("missing.sf2"))
    monkeypatch.setattr(music_synth, "FREEPATS_CFG", music_synth.FREEPATS_CFG.with_name("missing.cfg"))
    assert not music.available_tools()["timidity"]
    assert len(music.render_song(songs[0], backend="music21", max_seconds=5)) > 0  # numpy instead


def test_hanging_or_failing_tools_are_stopped(songs, tmp_path, monkeypatch, capsys):
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    fake_tool(bin_folder, "abc2midi", "exec sleep 30")
    fake_tool(bin_folder, "timidity", "exec sleep 30")
    fake_tool(bin_folder, "abcm2ps", "exit 1")
    monkeypatch.setenv("PATH", str(bin_folder) + os.pathsep + os.environ["PATH"])
    monkeypatch.setattr(music_abc, "TOOL_TIMEOUT_S", 1)
    monkeypatch.setattr(music_synth, "TOOL_TIMEOUT_S", 1)
    report = music.check_tune(songs[0], backend="abc2midi")  # each program is stopped after 1 s
    audio = music.render_song(songs[0], backend="music21", synth="auto", max_seconds=5)
    shown = music.show_sheet(songs[0], backend="music21")
    assert not report.parsed and "took over 1 s" in report.errors[0]
    assert np.abs(audio).max() > 0.5  # timidity timed out: the numpy synthesizer played instead
    assert shown.__class__.__name__ == "Figure"  # abcm2ps failed: a piano roll instead
    printed = capsys.readouterr().out
    assert "timidity took over 1 s: using the numpy synthesizer" in printed
    assert "piano roll instead" in printed


# --- write_wavs, pictures, CLI ----------------------------------------------------------


def test_write_wavs_reports_each_tune(songs, tmp_path):
    results = music.write_wavs([songs[0], "", "X:1\nT:x\nK:D\n"], tmp_path / "wavs", synth="numpy")
    assert [r.index for r in results] == [0, 1, 2]
    assert results[0].path == tmp_path / "wavs" / "tune_00.wav" and results[0].path.is_file()
    assert results[1].path is None and "empty" in results[1].reason
    assert results[2].path is None and "no notes" in results[2].reason
    assert sorted(p.name for p in (tmp_path / "wavs").iterdir()) == ["tune_00.wav"]


def test_piano_roll_draws_every_note(songs, tmp_path):
    figure = music.piano_roll(songs[0])
    axes = figure.axes[0]
    assert len(axes.patches) == music.check_tune(songs[0]).notes
    assert axes.get_xlim()[1] == pytest.approx(64, abs=1)
    figure.savefig(tmp_path / "roll.png")
    assert (tmp_path / "roll.png").stat().st_size > 5_000
    with pytest.raises(music.SongError):
        music.piano_roll("")


@needs_abcm2ps
def test_show_sheet_gives_svg(songs, capsys):
    sheet = music.show_sheet(songs[0])
    assert sheet.data.lstrip().startswith("<svg") and "Alexander" in sheet.data
    assert music.show_sheet("not a tune") is None
    assert capsys.readouterr().out.startswith("Cannot show this tune: not ABC")


def test_cli_play_writes_wav(songs, tmp_path, capsys):
    source = tmp_path / "two tunes; $(echo x).abc"
    source.write_text(songs[0] + "\n\n" + songs[1] + "\n")
    out = tmp_path / "out file & co.wav"
    assert music.main([str(source), "--index", "1", "--out", str(out), "--synth", "numpy"]) == 0
    assert read_wav(out)[2] > 10
    assert "tune 1: clean" in capsys.readouterr().out
    assert music.main([str(source), "--check"]) == 0
    assert not source.with_suffix(".wav").exists()  # --check writes nothing
    assert music.main([str(tmp_path / "missing.abc")]) == 2
    assert music.main([str(source), "--index", "5"]) == 2
    bad = tmp_path / "bad.abc"
    bad.write_text(HEADER + "AB|cdef gfe|cdef gfed|]\n")
    assert music.main([str(bad), "--check", "--backend", "music21"]) == 1


def test_tune_quality_counts_clean_tunes_and_copies():
    from labutils.data import load_training_data
    from labutils.music import CopyIndex, best_tunes, tune_quality

    songs = load_training_data()
    index = CopyIndex(songs[:100])
    copied = songs[5]
    body = copied.split("\nK:", 1)[1]
    original = songs[300].split("\nK:", 1)[0] + "\nK:G\nA|BA BA|BA BA|BA BA|cd ef|g4|\n"
    broken = original.replace("cd ef", "cd e")
    quality = tune_quality([copied, original, broken], index=index)
    rows = quality["tunes"]
    assert rows[0]["copies"] and rows[0]["longest_shared"] >= len(body.strip()) - 20
    assert rows[0]["copies_training_tune"] == 5
    assert not rows[1]["copies"] and rows[1]["longest_shared"] < 60
    assert quality["copying"] == 1 and quality["count"] == 3
    if rows[2]["backend"] == "abc2midi":
        assert rows[1]["clean"] and not rows[2]["clean"] and rows[2]["bad_bars"] == 1
    assert best_tunes([copied, original, broken], quality, 1) == [original]
