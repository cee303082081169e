"""labutils.music.audiofile: tunes as Ogg Vorbis where soundfile is installed, WAV otherwise, said once."""
import base64
import re

import numpy as np
import pytest
from scipy.io import wavfile

from labutils import music
from labutils.data import load_training_data
from labutils.music import audiofile


@pytest.fixture(scope="module")
def tunes():
    return load_training_data()[:2]


@pytest.fixture(autouse=True)
def nothing_said_yet(monkeypatch):
    monkeypatch.setattr(audiofile, "_said_wav", False)


def test_write_audio_is_ogg_a_tenth_of_the_wav_and_decodes(tunes, tmp_path):
    soundfile = pytest.importorskip("soundfile")
    oggs = music.write_audio(tunes, tmp_path / "audio", synth="numpy")
    wavs = music.write_wavs(tunes, tmp_path / "wavs", synth="numpy")
    assert [r.path.name for r in oggs] == ["tune_00.ogg", "tune_01.ogg"]
    for ogg, wav in zip(oggs, wavs):
        assert ogg.path.stat().st_size < wav.path.stat().st_size / 5
        decoded, rate = soundfile.read(ogg.path)
        rate_wav, samples = wavfile.read(wav.path)
        assert rate == rate_wav == music.SAMPLE_RATE and abs(len(decoded) - len(samples)) < rate // 10
        assert np.abs(decoded).max() > 0.1  # music, not silence


def test_a_notebook_player_of_the_ogg_carries_a_decodable_data_uri(tunes, tmp_path):
    soundfile = pytest.importorskip("soundfile")
    from IPython.display import Audio

    path = music.write_audio(tunes[:1], tmp_path, synth="numpy")[0].path
    html = Audio(filename=str(path))._repr_html_()
    found = re.search(r'src="data:(audio/[\w-]+);base64,([^"]+)"', html)
    assert found and found.group(1) == "audio/ogg"
    data = base64.b64decode(found.group(2))
    assert data == path.read_bytes() and data[:4] == b"OggS"
    assert soundfile.info(path).format == "OGG"


def test_without_soundfile_the_files_are_wavs_and_that_is_said_once(tunes, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(audiofile, "_soundfile", lambda: None)
    first = music.write_audio(tunes, tmp_path / "a", synth="numpy")
    second = music.write_audio(tunes, tmp_path / "b", synth="numpy")
    assert [r.path.name for r in first + second] == ["tune_00.wav", "tune_01.wav"] * 2
    assert all(r.path.read_bytes()[:4] == b"RIFF" for r in first + second)
    said = [line for line in capsys.readouterr().out.splitlines() if "soundfile" in line]
    assert len(said) == 1 and "pip install soundfile" in said[0]


def test_an_unknown_format_is_a_clear_error():
    with pytest.raises(ValueError, match="'.ogg' or '.wav'"):
        audiofile.encode_audio(np.zeros(10), 8000, ".mp3")
