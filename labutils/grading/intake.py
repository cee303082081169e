"""What the grader takes in: the submissions found on disk, never through a link, and each notebook
file through a first gate of limits (bytes, cells, nesting) before anything large is read or parsed;
the kernel phase's worker parses what passes (analysis.py).

A submission is the students' ground: a notebook that is a symbolic link (to /etc/shadow,
/proc/self/environ, a private config, a folder elsewhere), a FIFO or a device is never opened, and
no reason given here quotes what a file holds. The folders named on the command line are the
instructor's and are followed as given.
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

MiB = 1024 ** 2
MAX_NOTEBOOK_BYTES = 32 * MiB  # `grade --max-notebook-size`: a lab notebook with its audio outputs makes a few MB
MAX_CELLS = 2000  # the lab's notebooks have fewer than 100
MAX_DEPTH = 64  # nesting of JSON arrays and objects; a notebook and its widgets' metadata use about 10

NOT_FOLLOWED = "is a symbolic link: the grader never follows links in a submission (submit the file itself)"


def _kind(mode: int) -> Optional[str]:
    """Why a file of this mode is not read (a link, a FIFO, ...), or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return NOT_FOLLOWED
    if stat.S_ISDIR(mode):
        return "is a folder, not a notebook file"
    return "is not a regular file (a pipe, socket or device): not read"


def _notebooks_in(folder: Path) -> List[Path]:
    """The entries of `folder` named *.ipynb (links and other odd files included: reading refuses them), sorted."""
    with os.scandir(folder) as entries:
        return sorted(Path(e.path) for e in entries
                      if e.name.endswith(".ipynb") and not e.is_dir(follow_symlinks=False))


def _student_folders(folder: Path) -> List[Path]:
    """The sub-folders of a class folder, links to folders included (graded as refused), sorted."""
    with os.scandir(folder) as entries:
        return sorted(Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)
                      or e.is_symlink() and not e.name.endswith(".ipynb"))


def find_submissions(paths: Sequence[str]) -> List[Tuple[str, List[Path]]]:
    """(student name, notebooks) for each submission argument, as described in labutils/grading/__init__.py.

    The arguments themselves are followed; inside them, a link stands as its own path, which
    `notebook_bytes` refuses with a reason (so the student gets a row that says why)."""
    found: List[Tuple[str, List[Path]]] = []
    for given in paths:
        path = Path(given).resolve()  # yours: followed, so that only what lies inside is the students'
        if path.is_file():
            found.append((Path(given).stem, [path]))
        elif path.is_dir():
            own = _notebooks_in(path)
            if own:
                found.append((path.name, own))
                continue
            for folder in _student_folders(path):
                if folder.is_symlink():
                    found.append((folder.name, [folder]))
                    continue
                notebooks = _notebooks_in(folder)
                if notebooks:
                    found.append((folder.name, notebooks))
        else:
            raise FileNotFoundError(f"No such file or folder: {given}")
    names: Dict[str, int] = {}
    unique = []
    for name, notebooks in found:
        names[name] = names.get(name, 0) + 1
        unique.append((name if names[name] == 1 else f"{name}-{names[name]}", notebooks))
    return unique


def find_notebooks_under(folder: Path) -> Tuple[List[Path], List[str]]:
    """(every *.ipynb under `folder` but .ipynb_checkpoints, links included, sorted; the other files' names).

    The walk never enters a linked folder (Gradescope's submission folder)."""
    notebooks, others = [], []
    folder = Path(folder).resolve()
    for top, folders, files in os.walk(folder, followlinks=False):
        folders[:] = sorted(f for f in folders if f != ".ipynb_checkpoints")
        for name in files + [f for f in folders if (Path(top) / f).is_symlink()]:
            (notebooks if name.endswith(".ipynb") else others).append(Path(top) / name)
    return sorted(notebooks), sorted(str(p.relative_to(folder)) for p in others)


def read_bytes(path: Path, max_bytes: int) -> Tuple[Optional[bytes], str]:
    """(the file's bytes, "") or (None, why not): never through a link, never more than `max_bytes` read."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        why = _kind(os.lstat(path).st_mode)
        if why:
            return None, why
        parent = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0))
        try:  # the student's folder and the file, each opened without following a link (a swap after the listing)
            fd = os.open(path.name, flags, dir_fd=parent) if os.open in os.supports_dir_fd else os.open(path, flags)
        finally:
            os.close(parent)
    except OSError as error:
        return None, _open_error(error)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        why = _kind(info.st_mode)
        if why:
            return None, why
        if info.st_size > max_bytes:
            return None, too_large(info.st_size, max_bytes)
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew after the check
        return None, too_large(len(data), max_bytes)
    return data, ""


def _open_error(error: OSError) -> str:
    """Why a submission file could not be opened, in words (never its content)."""
    if error.errno in (getattr(os, "ELOOP", -1), getattr(os, "ENOTDIR", -1)):
        return NOT_FOLLOWED
    return f"could not be opened ({os.strerror(error.errno) if error.errno else type(error).__name__})"


def too_large(size: int, max_bytes: int) -> str:
    """'is too large: 300 MiB (the limit is 32 MiB, --max-notebook-size)'."""
    def mib(count: int) -> str:
        return f"{count / MiB:.1f} MiB" if count < 10 * MiB else f"{count // MiB} MiB"

    return (f"is too large: {mib(size)} (the limit is {mib(max_bytes)}, --max-notebook-size; clear the "
            "outputs and submit again)")


# A JSON string (escapes included), a lone quote (an unterminated string: not JSON), or a bracket.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|"|[\[\]{}]', re.S)


def shape_problem(data: bytes, max_cells: int = MAX_CELLS, max_depth: int = MAX_DEPTH) -> str:
    """Why the JSON text nests deeper than `max_depth` or holds more than `max_cells` cells ("" if neither),
    from one pass over its strings and brackets, before any parser sees it (no recursion, no copy)."""
    depth = cells = 0
    for token in _TOKENS.finditer(data):
        first = token.group()[:1]
        if first in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                return f"nests its JSON more than {max_depth} levels deep: not a notebook the grader reads"
        elif first in (b"]", b"}"):
            depth -= 1
        elif token.group() == b'"':
            return ""  # an unterminated string: the JSON parser says so
        elif depth == 3 and token.group() == b'"cell_type"':
            cells += 1
            if cells > max_cells:
                return f"has more than {max_cells} cells: not a notebook the grader reads"
    return ""


def notebook_bytes(path: Path, max_bytes: int = MAX_NOTEBOOK_BYTES) -> Tuple[Optional[bytes], str]:
    """(the notebook file's bytes, "") or (None, why not), through the grader's first gate: never a link, at
    most `max_bytes` read, nesting and cells within limits. The kernel phase's worker parses it (analysis.py)."""
    data, problem = read_bytes(Path(path), max_bytes)
    if data is None:
        return None, problem
    problem = shape_problem(data)
    return (None, problem) if problem else (data, "")
