"""Student notebooks built from the solutions and the Colab header they share.

`python -m labutils build-notebooks` reads every `solutions/NN_*.ipynb` and writes
`notebooks/NN_*.ipynb`: each region between `### BEGIN SOLUTION` and `### END SOLUTION`
becomes `raise NotImplementedError("TODO: <hint>")`, where the hint is the `# TODO:`
comment line kept just above the region. Outputs, execution counts and nbval markers are
removed, metadata is reduced to a fixed set, so the build is deterministic and
`--check` can tell whether `notebooks/` is up to date. The Colab badge of the first
markdown cell and the set-up cell (tagged "colab-setup") are written from REPO_URL and
BRANCH below, in the solutions and the student notebooks alike: the repository URL stands
only here.
"""
from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from labutils.files import atomic_write_text

PathLike = Union[str, Path]

# The one place the repository's address is written: badges and install cells come from here.
REPO_URL = "https://github.com/rnn-music-lab/rnn-music-lab"
BRANCH = "main"

SOLUTIONS_DIR = "solutions"  # folders inside the repository, as the badges link to them
NOTEBOOKS_DIR = "notebooks"
BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
TODO_PREFIX = "# TODO:"
SETUP_TAG = "colab-setup"
COLAB_BADGE_SVG = "https://colab.research.google.com/assets/colab-badge.svg"
# The set-up cell installs labutils from REPO_URL, or from this variable's repository when it is set
# (tests/test_colab.py points it at a local clone).
REPO_URL_ENV = "LABUTILS_REPO_URL"
COLAB_APT_PACKAGES = ("abcmidi", "timidity", "fluid-soundfont-gm", "abcm2ps")
_BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")
_NBVAL_LINE = re.compile(r"^\s*# NBVAL_\w+\s*$")
_KEPT_NOTEBOOK_METADATA = ("kernelspec", "accelerator", "colab")


class BuildError(ValueError):
    """A solution notebook that cannot be turned into a student notebook (the message says where)."""


# --- the Colab header --------------------------------------------------------------------


def repo_slug() -> str:
    """'owner/name' of REPO_URL."""
    return REPO_URL.rstrip("/").split("github.com/", 1)[1]


def colab_url(repo_path: str) -> str:
    """The Colab address that opens `repo_path` (e.g. 'notebooks/01_data.ipynb') from the repository."""
    return f"https://colab.research.google.com/github/{repo_slug()}/blob/{BRANCH}/{repo_path}"


def badge_markdown(repo_path: str) -> str:
    """The "Open in Colab" badge (markdown) for a notebook's path in the repository."""
    return f"[![Open In Colab]({COLAB_BADGE_SVG})]({colab_url(repo_path)})"


def setup_cell_source() -> str:
    """The set-up cell: in Colab it installs labutils, the tunes and the audio tools; elsewhere nothing."""
    apt = ", ".join(json.dumps(p) for p in COLAB_APT_PACKAGES)
    return "\n".join([
        "# Colab set-up: installs labutils, the tune collection and the audio tools. Elsewhere it does nothing",
        "# (run `make lab` locally). Written by `python -m labutils build-notebooks` from labutils/notebooks.py.",
        "import importlib.util",
        "import os",
        "import subprocess",
        "import sys",
        "",
        'if "google.colab" in sys.modules and importlib.util.find_spec("labutils") is None:',
        f"    repo = os.environ.get({json.dumps(REPO_URL_ENV)}, {json.dumps(REPO_URL)})",
        '    pip = [sys.executable, "-m", "pip", "install", "--quiet"]',
        f'    subprocess.run(pip + [f"labutils @ git+{{repo}}@{BRANCH}"], check=True, timeout=900)',
        '    subprocess.run(pip + ["setuptools<81", "wheel"], check=True, timeout=600)',
        '    subprocess.run(pip + ["--no-deps", "--no-build-isolation", "mitdeeplearning==0.7.5"], check=True, timeout=600)',
        '    subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=600)',
        f'    subprocess.run(["apt-get", "install", "-y", "-qq", {apt}], check=True, timeout=900)',
        "    importlib.invalidate_caches()",
    ])


def _is_setup_cell(cell) -> bool:
    return cell.cell_type == "code" and SETUP_TAG in cell.get("metadata", {}).get("tags", [])


def with_header(nb, repo_path: str):
    """A copy of `nb` whose first markdown cell has the Colab badge for `repo_path` and whose
    set-up cell (tag "colab-setup") is setup_cell_source(); both are added when missing."""
    import nbformat

    nb = copy.deepcopy(nb)
    cells = nb.cells
    if not cells or cells[0].cell_type != "markdown":
        raise BuildError(f"{repo_path}: the first cell must be markdown with the title.")
    badge = badge_markdown(repo_path)
    first = cells[0]
    if _BADGE.search(first.source):
        first.source = _BADGE.sub(lambda _: badge, first.source)
    else:  # put the badge right under the title line
        lines = first.source.split("\n")
        first.source = "\n".join(lines[:1] + ["", badge] + lines[1:])
    setup = [i for i, cell in enumerate(cells) if _is_setup_cell(cell)]
    if len(setup) > 1:
        raise BuildError(f"{repo_path}: {len(setup)} cells are tagged {SETUP_TAG!r}; keep one.")
    if setup:
        cells[setup[0]].source = setup_cell_source()
    else:
        cell = nbformat.v4.new_code_cell(setup_cell_source(), metadata={"tags": [SETUP_TAG]})
        cell["id"] = "colab-setup"
        cells.insert(1, cell)
    return nb


# --- turning solutions into exercises ------------------------------------------------------


def _todo_hint(kept_lines: List[str], where: str) -> str:
    """The text of the `# TODO:` comment in the comment block right above a BEGIN marker."""
    for line in reversed(kept_lines):
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        if stripped.startswith(TODO_PREFIX):
            return stripped[len(TODO_PREFIX):].strip()
    raise BuildError(f"{where}: put a '{TODO_PREFIX} ...' comment line right above '{BEGIN_SOLUTION}'.")


def _python_string(text: str) -> str:
    """A Python string literal for `text`, in double quotes when possible."""
    if '"' not in text and "\\" not in text:
        return f'"{text}"'
    return repr(text)


def strip_solutions(source: str, where: str = "cell") -> Tuple[str, int]:
    """Replace each BEGIN/END SOLUTION region by `raise NotImplementedError("TODO: <hint>")`.

    Returns (new source, number of regions). The raise takes the indentation of the BEGIN
    marker; nbval marker lines (`# NBVAL_...`) are dropped.
    """
    kept: List[str] = []
    lines = source.split("\n")
    regions = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == END_SOLUTION:
            raise BuildError(f"{where}: '{END_SOLUTION}' without a '{BEGIN_SOLUTION}' before it.")
        if line.strip() != BEGIN_SOLUTION:
            if not _NBVAL_LINE.match(line):
                kept.append(line)
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() in (BEGIN_SOLUTION, END_SOLUTION)),
                   None)
        if end is None or lines[end].strip() != END_SOLUTION:
            raise BuildError(f"{where}: '{BEGIN_SOLUTION}' has no matching '{END_SOLUTION}'.")
        indent = line[: len(line) - len(line.lstrip())]
        hint = _todo_hint(kept, where)
        kept.append(f"{indent}raise NotImplementedError({_python_string('TODO: ' + hint)})")
        regions += 1
        i = end + 1
    return "\n".join(kept), regions


def _clean_cell(cell):
    """A copy of a cell with outputs, execution count and volatile metadata removed."""
    cell = copy.deepcopy(cell)
    tags = cell.get("metadata", {}).get("tags")
    cell["metadata"] = {"tags": list(tags)} if tags else {}
    if cell.cell_type == "code":
        cell["outputs"] = []
        cell["execution_count"] = None
    return cell


def student_notebook(solution_nb, name: str):
    """The student version of a solution notebook named `name` (e.g. '05_training.ipynb')."""
    import nbformat

    nb = with_header(solution_nb, f"{NOTEBOOKS_DIR}/{name}")
    cells = []
    for index, cell in enumerate(nb.cells):
        cell = _clean_cell(cell)
        if cell.cell_type == "code":
            where = f"{SOLUTIONS_DIR}/{name}, cell {index}"
            cell.source, _ = strip_solutions(cell.source, where)
            try:
                ast.parse(cell.source)
            except SyntaxError as error:
                raise BuildError(f"{where}: the student version is not valid Python ({error.msg}, line "
                                 f"{error.lineno}). Check the indentation of '{BEGIN_SOLUTION}'.") from None
        cells.append(cell)
    metadata = {k: copy.deepcopy(v) for k, v in nb.metadata.items() if k in _KEPT_NOTEBOOK_METADATA}
    metadata["language_info"] = {"name": "python"}
    metadata["labutils"] = {"generated_from": f"{SOLUTIONS_DIR}/{name}",
                            "note": "Written by `python -m labutils build-notebooks`; edit the solution instead."}
    student = nbformat.v4.new_notebook(cells=cells, metadata=metadata)
    student.nbformat, student.nbformat_minor = 4, 5
    nbformat.validate(student)
    return student


def render(nb) -> str:
    """The notebook as JSON text exactly as the build writes it (sorted keys, one-space indent)."""
    import nbformat

    return nbformat.writes(nb, version=4) + "\n"


# --- the build ------------------------------------------------------------------------------


def _solution_files(solutions_dir: Path) -> List[Path]:
    if not solutions_dir.is_dir():
        raise FileNotFoundError(f"No solutions folder at {str(solutions_dir)!r} (use --solutions DIR).")
    files = sorted(solutions_dir.glob("[0-9][0-9]_*.ipynb"))
    if not files:
        raise FileNotFoundError(f"No NN_*.ipynb notebooks in {str(solutions_dir)!r}.")
    return files


def _planned(solutions_dir: PathLike, out_dir: PathLike) -> Dict[Path, str]:
    """{path: text} for every file the build owns: student notebooks and solution headers."""
    import nbformat

    solutions_dir, out_dir = Path(solutions_dir), Path(out_dir)
    planned: Dict[Path, str] = {}
    for path in _solution_files(solutions_dir):
        text = path.read_text(encoding="utf-8")
        nb = nbformat.reads(text, as_version=4)
        fixed = with_header(nb, f"{SOLUTIONS_DIR}/{path.name}")
        if fixed.cells != nb.cells:  # only a stale header is rewritten; the rest stays the instructor's
            planned[path] = render(fixed)
        planned[out_dir / path.name] = render(student_notebook(nb, path.name))
    planned.update(_editions().planned(solutions_dir, out_dir))  # solutions/<lang>/, notebooks/<lang>/
    return planned


def _editions():
    """labutils.editions, the notebooks in other languages (imported late: it imports this module)."""
    from labutils import editions

    return editions


MANIFEST_NAME = ".build-manifest.json"  # in out_dir: what the build wrote (committed with notebooks/)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_manifest(out_dir: Path) -> Dict[str, str]:
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


def _inside(out_dir: Path, name: str) -> bool:
    """True when the manifest name `name` is a relative path that stays inside out_dir (links resolved)."""
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        return False
    return (out_dir / relative).resolve().is_relative_to(out_dir.resolve())


def _render_manifest(files: Dict[str, str]) -> str:
    return json.dumps({"about": "written by `python -m labutils build-notebooks`: the files it made, so it "
                                "replaces only those nobody changed since", "files": dict(sorted(files.items()))},
                      indent=1) + "\n"


def _key(path: Path, out_dir: Path) -> Optional[str]:
    """A file's name in out_dir's manifest (e.g. 'zh/01_data.ipynb'); None for files outside out_dir."""
    try:
        return path.relative_to(out_dir).as_posix()
    except ValueError:
        return None


def _unchanged_since_build(path: Path, manifest: Dict[str, str], out_dir: Path) -> bool:
    """True when `path` holds exactly what the build last wrote there (so replacing it loses nothing)."""
    return path.is_file() and manifest.get(_key(path, out_dir)) == _sha(path.read_text(encoding="utf-8"))


def _stale_outputs(out_dir: Path, planned: Dict[Path, str]) -> List[Path]:
    """Notebooks the build wrote into out_dir (they are in its manifest) whose solution no longer exists."""
    return [out_dir / name for name in sorted(_read_manifest(out_dir))
            if out_dir / name not in planned and (out_dir / name).is_file()]


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
    manifest = _read_manifest(out)
    changed, kept = [], []
    for path, text in planned.items():
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        ours = _key(path, out) is None or not path.exists() or force or _unchanged_since_build(path, manifest, out)
        if not ours:
            kept.append(path)
            continue
        atomic_write_text(path, text)
        changed.append(path)
    for path in _stale_outputs(out, planned):
        if force or _unchanged_since_build(path, manifest, out):
            path.unlink()
            changed.append(path)
        else:
            kept.append(path)
    for path in _editions().stale(solutions_dir, planned):  # solutions/<lang>/ of a removed solution
        path.unlink()
        changed.append(path)
    recorded = {_key(path, out): _sha(text) for path, text in planned.items()
                if _key(path, out) and path not in kept}
    recorded.update({_key(path, out): manifest[_key(path, out)] for path in kept if _key(path, out) in manifest})
    manifest_text = _render_manifest(recorded)
    manifest_path = out / MANIFEST_NAME
    if not manifest_path.is_file() or manifest_path.read_text(encoding="utf-8") != manifest_text:
        atomic_write_text(manifest_path, manifest_text)
    return changed, kept


def build_notebooks(solutions_dir: PathLike = SOLUTIONS_DIR, out_dir: PathLike = NOTEBOOKS_DIR,
                    force: bool = False) -> List[Path]:
    """Write out_dir/NN_*.ipynb from solutions_dir (see `build`); return the changed files."""
    return build(solutions_dir, out_dir, force)[0]


def check_notebooks(solutions_dir: PathLike = SOLUTIONS_DIR, out_dir: PathLike = NOTEBOOKS_DIR) -> List[str]:
    """What differs from what the build would write: one line per file, empty when up to date."""
    planned = _planned(solutions_dir, out_dir)
    problems = []
    for path, text in planned.items():
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != text:
            is_solution = path.parent == Path(solutions_dir)
            problems.append(f"{path}: " + ("Colab badge or set-up cell differs from labutils/notebooks.py"
                                           if is_solution else "differs from what the build makes"))
    problems += [f"{path}: generated from a solution that no longer exists" for path in
                 _stale_outputs(Path(out_dir), planned) + _editions().stale(solutions_dir, planned)]
    problems += _editions().catalog_problems(solutions_dir)  # translations whose English changed or is new
    expected = _render_manifest({_key(p, Path(out_dir)): _sha(t) for p, t in planned.items()
                                 if _key(p, Path(out_dir))})
    manifest = Path(out_dir) / MANIFEST_NAME
    if not problems and (not manifest.is_file() or manifest.read_text(encoding="utf-8") != expected):
        problems.append(f"{manifest}: missing or out of date (the build records the files it wrote there)")
    return problems


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -m labutils build-notebooks [--check] [--solutions DIR] [--out DIR]`."""
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
            problems = check_notebooks(args.solutions, args.out)
            if problems:
                print("Notebooks are out of date; run `python -m labutils build-notebooks` (make notebooks):")
                for line in problems:
                    print(f"  {line}")
                if any(".yaml: " in line for line in problems):  # a catalog of labutils/editions.py
                    print("Translations: `python -m labutils translations update` adds the new and changed "
                          "English to translations/<lang>/*.yaml; translate those entries, then build.")
                return 1
            print(f"{args.out}/ is up to date with {args.solutions}/.")
            return 0
        changed, kept = build(args.solutions, args.out, args.force)
    except (BuildError, OSError) as error:
        print(f"error: {error}")
        return 2
    for path in changed:
        print(f"wrote {path}" if path.exists() else f"removed {path}")
    for path in kept:
        print(f"kept {path}: changed since the build wrote it (yours?); rename it to keep a copy, then "
              "--force replaces it")
    untranslated = _editions().catalog_problems(args.solutions)
    if untranslated:  # the editions keep the English there; --check fails until the catalogs are complete
        print(f"note: {len(untranslated)} translation entries are missing or out of date "
              "(`python -m labutils translations check` lists them).")
    print(f"{len(changed)} file(s) changed." if changed else f"{args.out}/ was already up to date.")
    return 0


def __getattr__(name: str):
    """`labutils.notebooks.trained_model`, where notebooks written before labutils.pretrained import it."""
    if name == "trained_model":
        from labutils.pretrained import trained_model

        return trained_model
    raise AttributeError(f"module 'labutils.notebooks' has no attribute {name!r}")
