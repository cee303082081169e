"""The tune collection: find it, load it, split text into tunes, split tunes for validation.

The lab's data is `irish.abc`, shipped inside the `mitdeeplearning` distribution. We
read it as a plain file located with `importlib.util.find_spec`, because importing
`mitdeeplearning` would import TensorFlow.
"""
from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

INSTALL_COMMAND = (
    'pip install "setuptools<81" wheel && '
    "pip install --no-deps --no-build-isolation mitdeeplearning==0.7.5"
)

# A tune starts at a line beginning with "X:" (the reference number field).
_TUNE_START = re.compile(r"(?m)^X:")
# A header field line such as "T:Title" or "K:D Major".
_HEADER_LINE = re.compile(r"^[A-Za-z]:")


class DataNotFoundError(FileNotFoundError):
    """Raised when the tune collection is not installed or a given path does not exist."""


def find_tune_file() -> Path:
    """Return the path of `irish.abc` inside the installed mitdeeplearning package."""
    spec = importlib.util.find_spec("mitdeeplearning")
    if spec is None or not spec.submodule_search_locations:
        raise DataNotFoundError(
            "The tune collection (irish.abc from the mitdeeplearning package) is not "
            f"installed. Install it with:\n    {INSTALL_COMMAND}"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "data" / "irish.abc"
        if path.is_file():
            return path
    raise DataNotFoundError(
        "mitdeeplearning is installed but its data/irish.abc is missing. Reinstall with:"
        f"\n    {INSTALL_COMMAND}"
    )


def split_tunes(text: str) -> List[str]:
    """Split a complete ABC file into tunes: one per `X:` line, blank lines inside kept."""
    starts = [m.start() for m in _TUNE_START.finditer(text)]
    tunes = []
    for begin, end in zip(starts, starts[1:] + [len(text)]):
        tune = text[begin:end].strip()
        if tune:
            tunes.append(tune)
    return tunes


def read_abc_text(path: Union[str, os.PathLike]) -> str:
    """The text of an ABC file: UTF-8, or Latin-1 (with a note on stderr) when it is not UTF-8,
    so no character turns silently into U+FFFD."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        text = raw.decode("latin-1")
        print(f"note: {str(path)!r} is not UTF-8 (byte {raw[error.start]:#04x} at {error.start}); read it as "
              "Latin-1. Save it as UTF-8 to silence this.", file=sys.stderr)
    return text.replace("\r\n", "\n")


def load_training_data(path: Union[str, os.PathLike, None] = None) -> List[str]:
    """Load the tunes (list of str, each starting with "X:") from irish.abc, a file or a folder."""
    if path is None:
        files = [find_tune_file()]
    else:
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*.abc") if p.is_file())
            if not files:
                raise DataNotFoundError(f"No .abc files in folder {str(path)!r}.")
        elif path.is_file():
            files = [path]
        else:
            raise DataNotFoundError(f"No such ABC file or folder: {str(path)!r}.")
    songs: List[str] = []
    seen = set()
    for file in files:
        text = read_abc_text(file)
        for tune in split_tunes(text):
            if tune not in seen:  # the same tune twice would only weigh it double
                seen.add(tune)
                songs.append(tune)
    if not songs:
        raise ValueError(f"No tunes (lines starting with 'X:') found in {[str(f) for f in files]}.")
    return songs


def _tune_end(chunk: str) -> Optional[int]:
    """Index where a tune in `chunk` ends (its first blank line after some music), or None."""
    lines = chunk.split("\n")[:-1]  # the piece after the last newline is not a whole line
    seen_key = seen_music = False
    offset = 0
    for line in lines:
        if seen_music and line.strip() == "":
            return offset
        if seen_key and line.strip() and not _HEADER_LINE.match(line):
            seen_music = True
        if line.startswith("K:"):
            seen_key = True
        offset += len(line) + 1
    return None


def extract_song_snippet(text: str, keep_unfinished: bool = False) -> List[str]:
    """Find the complete tunes in any text (e.g. generated), each from "X:" to its blank line.

    A tune ends at the first blank line after its music, or where the next "X:" line
    begins. The last tune of the text is dropped when nothing marks its end (the
    generator stopped in the middle of it) unless `keep_unfinished=True`.
    """
    if not isinstance(text, str):
        raise TypeError(f"extract_song_snippet expects a str, got {type(text).__name__}.")
    text = text.replace("\r\n", "\n")
    starts = [m.start() for m in _TUNE_START.finditer(text)]
    songs = []
    for i, begin in enumerate(starts):
        is_last = i == len(starts) - 1
        chunk = text[begin : starts[i + 1] if not is_last else len(text)]
        end = _tune_end(chunk)
        if end is None and is_last and not keep_unfinished:
            continue
        tune = (chunk if end is None else chunk[:end]).strip()
        if tune:
            songs.append(tune)
    return songs


def join_songs(songs: Sequence[str]) -> str:
    """Join tunes into one training string, separated by a blank line (the seed's songs_joined)."""
    return "\n\n".join(songs)


def train_val_split(
    songs: Sequence[str], val_fraction: float = 0.1, seed: int = 0
) -> Tuple[List[str], List[str]]:
    """Split tunes (not characters) into a seeded (train, validation) pair."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}.")
    if len(songs) < 2:
        raise ValueError(f"Need at least 2 tunes to split, got {len(songs)}.")
    order = np.random.default_rng(seed).permutation(len(songs))
    n_val = max(1, int(round(len(songs) * val_fraction)))
    val_idx = set(order[:n_val].tolist())
    train = [s for i, s in enumerate(songs) if i not in val_idx]
    val = [s for i, s in enumerate(songs) if i in val_idx]
    return train, val
