"""notebooks/.build-manifest.json: the files the build wrote and the hash of what it wrote in each.

The build replaces or removes a file in its output folder only when the manifest says it wrote
that file and the file still holds exactly that (or with --force, when the manifest names it);
files the build never wrote are never touched. Names in the manifest are paths relative to the
output folder (e.g. 'zh/01_data.ipynb'); one that points outside it stops the build.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Iterable, List, Optional

from labutils.authoring.sources import BuildError, text_sha256
from labutils.files import atomic_write_text

MANIFEST_NAME = ".build-manifest.json"  # in out_dir: what the build wrote (committed with notebooks/)


def manifest_key(path: Path, out_dir: Path) -> Optional[str]:
    """A file's name in out_dir's manifest (e.g. 'zh/01_data.ipynb'); None for files outside out_dir."""
    try:
        return path.relative_to(out_dir).as_posix()
    except ValueError:
        return None


def _inside(out_dir: Path, name: str) -> bool:
    """True when the manifest name `name` is a relative path that stays inside out_dir (links resolved)."""
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        return False
    return (out_dir / relative).resolve().is_relative_to(out_dir.resolve())


def read_manifest(out_dir: Path) -> Dict[str, str]:
    """{file name: sha256 of the text the build wrote} from out_dir's manifest ({} when there is none).

    Raises BuildError for a name that points outside out_dir: the build replaces and removes
    the files its manifest names, so such an entry could make it delete someone else's file."""
    try:
        files = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if not isinstance(files, dict):
        return {}
    for name in files:
        if not _inside(out_dir, str(name)):
            raise BuildError(f"{out_dir / MANIFEST_NAME}: entry {str(name)!r} is outside {str(out_dir)!r}; the build "
                             "only writes there. Delete that entry and build again.")
    return {str(k): str(v) for k, v in files.items()}


def render_manifest(files: Dict[str, str]) -> str:
    """The manifest's text for {file name: sha256}, names sorted."""
    return json.dumps({"about": "written by `python -m labutils build-notebooks`: the files it made, so it "
                                "replaces only those nobody changed since", "files": dict(sorted(files.items()))},
                      indent=1) + "\n"


def recorded(files: Dict[Path, str], out_dir: Path) -> Dict[str, str]:
    """{file name: sha256} of the files among `files` ({path: text}) that lie in out_dir."""
    return {manifest_key(path, out_dir): text_sha256(text) for path, text in files.items()
            if manifest_key(path, out_dir)}


def unchanged_since_build(path: Path, manifest: Dict[str, str], out_dir: Path) -> bool:
    """True when `path` holds exactly what the build last wrote there (so replacing it loses nothing)."""
    return path.is_file() and manifest.get(manifest_key(path, out_dir)) == text_sha256(path.read_text(encoding="utf-8"))


def stale_outputs(out_dir: Path, planned: Iterable[Path]) -> List[Path]:
    """Files the build wrote into out_dir (they are in its manifest) that it would no longer write."""
    planned = set(planned)
    return [out_dir / name for name in sorted(read_manifest(out_dir))
            if out_dir / name not in planned and (out_dir / name).is_file()]


def write_manifest(out_dir: Path, files: Dict[str, str]) -> None:
    """Write out_dir's manifest for {file name: sha256}, unless it already says exactly that."""
    text = render_manifest(files)
    path = out_dir / MANIFEST_NAME
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        atomic_write_text(path, text)
