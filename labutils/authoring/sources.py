"""What the notebook build reads: the repository's folders, the solution notebooks, and the error it stops with."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import List, Union

PathLike = Union[str, Path]

SOLUTIONS_DIR = "solutions"  # folders inside the repository, as the badges link to them
NOTEBOOKS_DIR = "notebooks"
TRANSLATIONS_DIR = "translations"


class BuildError(ValueError):
    """A solution notebook, catalog or manifest the build cannot use (the message says where and what to do)."""


def solution_files(solutions_dir: PathLike) -> List[Path]:
    """The solution notebooks, solutions_dir/NN_*.ipynb, in order; a clear error when there are none."""
    solutions_dir = Path(solutions_dir)
    if not solutions_dir.is_dir():
        raise FileNotFoundError(f"No solutions folder at {str(solutions_dir)!r} (use --solutions DIR).")
    files = sorted(solutions_dir.glob("[0-9][0-9]_*.ipynb"))
    if not files:
        raise FileNotFoundError(f"No NN_*.ipynb notebooks in {str(solutions_dir)!r}.")
    return files


def read_notebook(path: Path):
    """The notebook at `path` (nbformat version 4)."""
    import nbformat

    return nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)


def default_translations_dir(solutions_dir: PathLike) -> Path:
    """translations/ beside the solutions folder."""
    return Path(solutions_dir).resolve().parent / TRANSLATIONS_DIR


def text_sha256(text: str) -> str:
    """The SHA-256 (hex) of a text in UTF-8: the manifest's record of a file, and a catalog's fingerprint cut short."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
