"""Audio files: Ogg Vorbis through `soundfile` where it is installed, else 16-bit WAV.

A tune of the lab's synthesizer takes about a tenth of the space as Ogg Vorbis as it takes as
WAV, and browsers play both (an <audio> element, IPython's Audio). Without soundfile (or a
libsndfile without Ogg) the files are WAVs, and the first write says so once per process.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Optional, Union

import numpy as np

from labutils.files import atomic_write_bytes

PathLike = Union[str, Path]
MIME_TYPES = {".ogg": "audio/ogg", ".wav": "audio/wav"}
VORBIS_BLOCK = 4096  # samples handed to the Vorbis encoder at a time
_said_wav = False


def _soundfile():
    """The soundfile module when it can write Ogg Vorbis here, else None."""
    try:
        import soundfile
    except (ImportError, OSError):  # OSError: the module is there, its libsndfile is not
        return None
    return soundfile if "OGG" in soundfile.available_formats() else None


def ogg_available() -> bool:
    """Whether this machine writes Ogg Vorbis (soundfile with a libsndfile that has it)."""
    return _soundfile() is not None


def audio_suffix() -> str:
    """'.ogg' where soundfile writes Ogg Vorbis, else '.wav' (saying once why the files are larger)."""
    if ogg_available():
        return ".ogg"
    global _said_wav
    if not _said_wav:
        _said_wav = True
        print("soundfile is not installed: writing WAV files, about ten times larger than Ogg "
              "(pip install soundfile for Ogg Vorbis)")
    return ".wav"


def encode_audio(audio: np.ndarray, sample_rate: int, suffix: str = ".wav") -> bytes:
    """Mono audio in [-1, 1] as the bytes of a '.wav' (16-bit) or '.ogg' (Vorbis) file."""
    buffer = io.BytesIO()
    _encode(buffer, audio, sample_rate, suffix)
    return buffer.getvalue()


def write_audio_file(path: PathLike, audio: np.ndarray, sample_rate: int, suffix: Optional[str] = None) -> Path:
    """Write mono audio at `path` (atomically) as `suffix` says, '.ogg' or '.wav' (default: the path's)."""
    suffix = suffix or Path(path).suffix.lower()
    if suffix not in MIME_TYPES:
        raise ValueError(f"audio files are '.ogg' or '.wav', got {suffix!r}")
    return atomic_write_bytes(path, lambda handle: _encode(handle, audio, sample_rate, suffix))


def _encode(handle, audio: np.ndarray, sample_rate: int, suffix: str) -> None:
    """Write mono audio in [-1, 1] into a binary file handle as a '.wav' or '.ogg' file."""
    samples = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    if suffix == ".ogg":
        soundfile = _soundfile()
        if soundfile is None:
            raise RuntimeError("Ogg Vorbis needs the soundfile package: pip install soundfile")
        with soundfile.SoundFile(handle, "w", sample_rate, 1, format="OGG", subtype="VORBIS") as out:
            for start in range(0, len(samples), VORBIS_BLOCK):  # one large write can crash libsndfile 1.2
                out.write(samples[start:start + VORBIS_BLOCK])
    elif suffix == ".wav":
        from scipy.io import wavfile

        wavfile.write(handle, sample_rate, (samples * 32767).astype(np.int16))
    else:
        raise ValueError(f"audio files are '.ogg' or '.wav', got {suffix!r}")
