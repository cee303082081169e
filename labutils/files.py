"""Writing files without losing what was there: atomic writes, and the checks an output path or
folder passes before anything is written (never the input, never a file replaced without a flag,
a folder one can write in)."""
from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Iterable, Union

PathLike = Union[str, Path]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class DiskFullError(OSError):
    """The disk filled up while writing a file; the message names the file and says what to do."""

    def __init__(self, path: PathLike):
        super().__init__(f"no space left on device while writing {str(path)!r}: free some space and try again")
        self.errno, self.filename = errno.ENOSPC, str(path)

    def __str__(self) -> str:
        return self.args[0]


def _disk_full(error: BaseException, folder: Path) -> bool:
    """Whether `error`, met while writing in `folder`, came from a full disk (torch says only
    "enforce fail ... unexpected pos" then, so the free space is asked too)."""
    if isinstance(error, OSError):
        return error.errno == errno.ENOSPC
    try:
        stats = os.statvfs(folder)
    except (OSError, AttributeError):
        return False
    return stats.f_bavail * stats.f_frsize < 1_000_000


def atomic_write_bytes(path: PathLike, write) -> Path:
    """Call write(file) on a temporary file beside `path`, then rename it into place.

    Whatever happens (a full disk, Ctrl-C, an exception in `write`), `path` holds either its
    old content or the whole new one, never a part. A full disk raises DiskFullError, whose
    message says "no space left on device".
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException as error:
        full = isinstance(error, Exception) and not isinstance(error, DiskFullError) and _disk_full(error, path.parent)
        Path(tmp).unlink(missing_ok=True)
        if full:
            raise DiskFullError(path) from error
        raise
    return path


def atomic_write_text(path: PathLike, text: str) -> Path:
    """Write text to `path` atomically (never leaves a half-written file)."""
    return atomic_write_bytes(path, lambda handle: handle.write(text.encode("utf-8")))


def check_output(path: PathLike, overwrite: bool = False, inputs: Iterable[PathLike] = (),
                 flag: str = "overwrite=True") -> Path:
    """Check, before any work, that `path` may be written: its folder exists and is writable, it is
    none of `inputs`, and it is a new file unless `overwrite`. Raises FileExistsError (naming
    `flag`), FileNotFoundError or PermissionError with a one-line message."""
    path = Path(path)
    for source in inputs:
        source = Path(source)
        if path.resolve() == source.resolve():
            raise FileExistsError(f"the output {str(path)!r} is the input file: pick another output name")
    if path.is_dir():
        raise IsADirectoryError(f"the output {str(path)!r} is a folder: give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {str(folder)!r} for the output {path.name!r}: create it first "
                                "or pick another output")
    check_writable_folder(folder, f"the output {str(path)!r}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} already exists: pass {flag} to replace it")
    return path


def check_writable_folder(folder: PathLike, name: str) -> Path:
    """Check, before any work, that `folder` is a folder, or can be made one, that this user may
    write in. Raises NotADirectoryError or PermissionError with a one-line message that starts with
    `name` (what the folder is to the user, e.g. "--runs-dir 'runs'")."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{name} is a file, not a folder: pick a folder")
    existing = next((p for p in [folder, *folder.parents] if p.exists()), Path("."))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"{name}: cannot write in {str(existing)!r} (read-only); pick a folder you can write to")
    return folder
