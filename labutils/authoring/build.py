"""The notebook build: `python -m labutils build-notebooks [--check] [--force]`.

It reads every `solutions/NN_*.ipynb` and writes `notebooks/NN_*.ipynb` (transforms.py), the
editions in other languages (editions.py), refreshes the Colab header of the solutions
themselves, and records what it wrote (manifest.py), so it replaces only the notebooks it wrote
and nobody changed since. `--check` writes nothing and lists every file that differs from what
the build would write.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from labutils.authoring.editions import catalog_problems, edition_files, stale_solutions
from labutils.authoring.manifest import (
    MANIFEST_NAME,
    manifest_key,
    read_manifest,
    recorded,
    render_manifest,
    stale_outputs,
    unchanged_since_build,
    write_manifest,
)
from labutils.authoring.sources import NOTEBOOKS_DIR, SOLUTIONS_DIR, BuildError, PathLike, read_notebook, solution_files
from labutils.authoring.transforms import render, student_notebook, with_header
from labutils.files import atomic_write_text


def _planned(solutions_dir: PathLike, out_dir: PathLike) -> Dict[Path, str]:
    """{path: text} for every file the build owns: student notebooks, editions and solution headers."""
    solutions_dir, out_dir = Path(solutions_dir), Path(out_dir)
    planned: Dict[Path, str] = {}
    for path in solution_files(solutions_dir):
        nb = read_notebook(path)
        fixed = with_header(nb, f"{SOLUTIONS_DIR}/{path.name}")
        if fixed.cells != nb.cells:  # only a stale header is rewritten; the rest stays the instructor's
            planned[path] = render(fixed)
        planned[out_dir / path.name] = render(student_notebook(nb, path.name))
    planned.update(edition_files(solutions_dir, out_dir))  # solutions/<lang>/, notebooks/<lang>/
    return planned


def _write(planned: Dict[Path, str], out: Path, manifest: Dict[str, str], force: bool) -> Tuple[List[Path], List[Path]]:
    """(changed, kept): write each planned file that differs, unless it is in out and someone changed it."""
    changed, kept = [], []
    for path, text in planned.items():
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        ours = (manifest_key(path, out) is None or not path.exists() or force
                or unchanged_since_build(path, manifest, out))
        if not ours:
            kept.append(path)
            continue
        atomic_write_text(path, text)
        changed.append(path)
    return changed, kept


def build(solutions_dir: PathLike = SOLUTIONS_DIR, out_dir: PathLike = NOTEBOOKS_DIR,
          force: bool = False) -> Tuple[List[Path], List[Path]]:
    """(changed, kept): write out_dir/NN_*.ipynb from solutions_dir, refresh solution headers.

    Only files the build wrote and nobody changed since (their hash is in the manifest) are
    replaced or removed; a student's edited notebook or own file is kept and listed in `kept`,
    unless `force` (then edited generated notebooks are replaced; files the build never wrote
    are still never removed).
    """
    planned = _planned(solutions_dir, out_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(out)
    changed, kept = _write(planned, out, manifest, force)
    for path in stale_outputs(out, planned):
        if force or unchanged_since_build(path, manifest, out):
            path.unlink()
            changed.append(path)
        else:
            kept.append(path)
    for path in stale_solutions(solutions_dir, planned):  # solutions/<lang>/ of a removed solution
        path.unlink()
        changed.append(path)
    files = recorded({path: text for path, text in planned.items() if path not in kept}, out)
    files.update({manifest_key(path, out): manifest[manifest_key(path, out)] for path in kept
                  if manifest_key(path, out) in manifest})
    write_manifest(out, files)
    return changed, kept


def build_notebooks(solutions_dir: PathLike = SOLUTIONS_DIR, out_dir: PathLike = NOTEBOOKS_DIR,
                    force: bool = False) -> List[Path]:
    """Write out_dir/NN_*.ipynb from solutions_dir (see `build`); return the changed files."""
    return build(solutions_dir, out_dir, force)[0]


def check_notebooks(solutions_dir: PathLike = SOLUTIONS_DIR, out_dir: PathLike = NOTEBOOKS_DIR) -> List[str]:
    """What differs from what the build would write: one line per file, empty when up to date."""
    planned = _planned(solutions_dir, out_dir)
    out = Path(out_dir)
    problems = []
    for path, text in planned.items():
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != text:
            is_solution = path.parent == Path(solutions_dir)
            problems.append(f"{path}: " + ("Colab badge or set-up cell differs from labutils/notebooks.py"
                                           if is_solution else "differs from what the build makes"))
    problems += [f"{path}: generated from a solution that no longer exists" for path in
                 stale_outputs(out, planned) + stale_solutions(solutions_dir, planned)]
    problems += catalog_problems(solutions_dir)  # translations whose English changed or is new
    manifest = out / MANIFEST_NAME
    expected = render_manifest(recorded(planned, out))
    if not problems and (not manifest.is_file() or manifest.read_text(encoding="utf-8") != expected):
        problems.append(f"{manifest}: missing or out of date (the build records the files it wrote there)")
    return problems


def _print_check(problems: List[str]) -> int:
    """Say what --check found; the exit status (1 when something is out of date)."""
    if not problems:
        return 0
    print("Notebooks are out of date; run `python -m labutils build-notebooks` (make notebooks):")
    for line in problems:
        print(f"  {line}")
    if any(".yaml: " in line for line in problems):  # a translation catalog (editions.py)
        print("Translations: `python -m labutils translations update` adds the new and changed "
              "English to translations/<lang>/*.yaml; translate those entries, then build.")
    return 1


def _print_build(changed: List[Path], kept: List[Path], solutions_dir: str, out_dir: str) -> None:
    """Say what the build wrote, removed and kept, and how many translations are missing."""
    for path in changed:
        print(f"wrote {path}" if path.exists() else f"removed {path}")
    for path in kept:
        print(f"kept {path}: changed since the build wrote it (yours?); rename it to keep a copy, then "
              "--force replaces it")
    untranslated = catalog_problems(solutions_dir)
    if untranslated:  # the editions keep the English there; --check fails until the catalogs are complete
        print(f"note: {len(untranslated)} translation entries are missing or out of date "
              "(`python -m labutils translations check` lists them).")
    print(f"{len(changed)} file(s) changed." if changed else f"{out_dir}/ was already up to date.")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -m labutils build-notebooks [--check] [--force] [--solutions DIR] [--out DIR]`."""
    parser = argparse.ArgumentParser(
        allow_abbrev=False, prog="python -m labutils build-notebooks",
        description="Write the student notebooks (notebooks/) from the solutions (solutions/): solution "
                    "regions become TODOs, outputs are cleared. Never edit notebooks/ by hand.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 and list the files that differ from what the build makes")
    parser.add_argument("--solutions", default=SOLUTIONS_DIR, help="folder of solution notebooks (solutions/)")
    parser.add_argument("--out", default=NOTEBOOKS_DIR, help="folder of student notebooks (notebooks/)")
    parser.add_argument("--force", action="store_true",
                        help="also replace generated notebooks someone edited since the build wrote them")
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        if args.check:
            status = _print_check(check_notebooks(args.solutions, args.out))
            if not status:
                print(f"{args.out}/ is up to date with {args.solutions}/.")
            return status
        changed, kept = build(args.solutions, args.out, args.force)
    except (BuildError, OSError) as error:
        print(f"error: {error}")
        return 2
    _print_build(changed, kept, args.solutions, args.out)
    return 0
