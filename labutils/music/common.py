"""What the music modules share: the one-line error of an unplayable tune, finding the optional
programs (abc2midi, timidity, abcm2ps) and how long any of them may run."""
from __future__ import annotations

import shutil
from typing import Optional

TOOL_TIMEOUT_S = 20  # seconds any external music program may run on one tune


class SongError(ValueError):
    """A text that cannot be played; its message is the one-line reason shown to the user."""


def tool_path(name: str) -> Optional[str]:
    """Full path of an external program on PATH, or None."""
    return shutil.which(name)


_said_pure_python = False


def say_pure_python_once() -> None:
    """Print, once per session, that abc2midi is missing and the pure-Python parser is used."""
    global _said_pure_python
    if not _said_pure_python:
        _said_pure_python = True
        print("abc2midi not found: using the pure-Python path (music21). "
              "For the faster parser: apt install abcmidi")
