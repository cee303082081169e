"""Editions of the notebooks in other languages: the English solutions with their prose from a catalog.

For each language folder `translations/<lang>/` (e.g. `translations/zh/`), the notebook build
also writes `solutions/<lang>/NN_*.ipynb` and `notebooks/<lang>/NN_*.ipynb`: the English
solution translated (translation.py) with the entries of `translations/<lang>/NN_*.yaml`
(catalogs.py), plus a cell right after the set-up cell that sets the check messages' language
(`labutils.checks.set_language`). An English text whose entry is missing stays English, and
`build-notebooks --check` fails until `python -m labutils translations update` (this module's
command) has added the entry and a translator has written it.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from labutils.authoring.catalogs import Catalog, catalog_for, languages
from labutils.authoring.sources import (
    NOTEBOOKS_DIR,
    SOLUTIONS_DIR,
    TRANSLATIONS_DIR,
    PathLike,
    default_translations_dir,
    read_notebook,
    solution_files,
)
from labutils.authoring.transforms import render, student_notebook, with_header
from labutils.authoring.translation import english_units, translate_notebook
from labutils.files import atomic_write_text
from labutils.notebooks import is_setup_cell

LANGUAGE_TAG = "edition-language"
# The cell each edition gets right after the set-up cell: the check messages in its language.
LANGUAGE_CELLS = {
    "zh": ("# 让检查函数（labutils.checks）用中文给出结果和提示。\n"
           "import labutils.checks\n\n"
           'labutils.checks.set_language("zh")'),
}


def _with_language_cell(nb, language: str):
    """A copy of `nb` with the cell that sets the check messages' language right after the set-up cell."""
    import nbformat

    nb = copy.deepcopy(nb)
    cells = [c for c in nb.cells if LANGUAGE_TAG not in c.get("metadata", {}).get("tags", [])]
    at = next((i + 1 for i, c in enumerate(cells) if is_setup_cell(c)), 1)
    cell = nbformat.v4.new_code_cell(LANGUAGE_CELLS.get(language, f'import labutils.checks\n\n'
                                                                  f'labutils.checks.set_language("{language}")'),
                                     metadata={"tags": [LANGUAGE_TAG]})
    cell["id"] = LANGUAGE_TAG
    nb.cells = cells[:at] + [cell] + cells[at:]
    return nb


def edition_notebooks(solution_nb, name: str, language: str, catalog: Catalog) -> Tuple[object, object]:
    """(solution, student) notebooks of one edition; `solution_nb` is the English solution named `name`."""
    translated = _with_language_cell(translate_notebook(solution_nb, catalog.lookup()), language)
    marks = {"generated_from": f"{SOLUTIONS_DIR}/{name}", "translation": f"{TRANSLATIONS_DIR}/{language}/"
             f"{Path(name).stem}.yaml", "language": language,
             "note": "Written by `python -m labutils build-notebooks`; edit the English solution and the catalog."}
    solution = with_header(translated, f"{SOLUTIONS_DIR}/{language}/{name}")
    solution.metadata["labutils"] = dict(marks)
    student = with_header(student_notebook(translated, name), f"{NOTEBOOKS_DIR}/{language}/{name}")
    student.metadata["labutils"] = dict(marks)
    return solution, student


def _translations_dir(solutions_dir: Path, translations_dir: Optional[PathLike]) -> Path:
    """The catalogs' folder: `translations_dir` when given, else translations/ beside the solutions."""
    return Path(translations_dir) if translations_dir else default_translations_dir(solutions_dir)


def edition_files(solutions_dir: PathLike, out_dir: PathLike,
                  translations_dir: Optional[PathLike] = None) -> Dict[Path, str]:
    """{path: text} of every edition notebook the build writes (nothing when there are no translations)."""
    solutions_dir, out_dir = Path(solutions_dir), Path(out_dir)
    translations_dir = _translations_dir(solutions_dir, translations_dir)
    files: Dict[Path, str] = {}
    for language in languages(translations_dir):
        for path in solution_files(solutions_dir):
            catalog = catalog_for(translations_dir, language, path)
            solution, student = edition_notebooks(read_notebook(path), path.name, language, catalog)
            files[solutions_dir / language / path.name] = render(solution)
            files[out_dir / language / path.name] = render(student)
    return files


def stale_solutions(solutions_dir: PathLike, planned_files: Dict[Path, str]) -> List[Path]:
    """Edition solutions (solutions/<lang>/, marked with their language) that the build would no longer write.

    The student editions, notebooks/<lang>/, are in the build's manifest like the English ones."""
    found = []
    folder = Path(solutions_dir)
    for path in sorted(folder.glob("*/[0-9][0-9]_*.ipynb")) if folder.is_dir() else []:
        if path in planned_files:
            continue
        try:
            marks = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("labutils", {})
        except ValueError:
            continue
        if isinstance(marks, dict) and marks.get("language") == path.parent.name:
            found.append(path)
    return found


def catalog_problems(solutions_dir: PathLike, translations_dir: Optional[PathLike] = None) -> List[str]:
    """One line per catalog entry that is missing, changed, fuzzy, untranslated or unused, for every edition."""
    solutions_dir = Path(solutions_dir)
    translations_dir = _translations_dir(solutions_dir, translations_dir)
    lines = []
    for language in languages(translations_dir):
        names = {path.stem for path in solution_files(solutions_dir)}
        lines += [f"{catalog}: there is no {solutions_dir.name}/{catalog.stem}.ipynb any more; delete the catalog"
                  for catalog in sorted((translations_dir / language).glob("[0-9][0-9]_*.yaml"))
                  if catalog.stem not in names]
        for path in solution_files(solutions_dir):
            catalog = catalog_for(translations_dir, language, path)
            units = english_units(read_notebook(path))
            shown = os.path.relpath(catalog.path) if catalog.path.is_relative_to(Path.cwd()) else catalog.path
            lines += [f"{shown}: {problem}" for problem in catalog.problems(units)]
    return lines


def update_catalogs(solutions_dir: PathLike, translations_dir: Optional[PathLike] = None,
                    language: Optional[str] = None) -> List[Path]:
    """Rewrite the catalogs so each has one entry per piece of English prose; return the files changed."""
    solutions_dir = Path(solutions_dir)
    translations_dir = _translations_dir(solutions_dir, translations_dir)
    changed = []
    for lang in [language] if language else languages(translations_dir):
        (translations_dir / lang).mkdir(parents=True, exist_ok=True)
        for path in solution_files(solutions_dir):
            catalog = catalog_for(translations_dir, lang, path)
            text = catalog.updated(english_units(read_notebook(path))).render()
            if not catalog.path.is_file() or catalog.path.read_text(encoding="utf-8") != text:
                atomic_write_text(catalog.path, text)
                changed.append(catalog.path)
    return changed


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -m labutils translations update|check [--language zh]`: the maintainers' catalog tool."""
    parser = argparse.ArgumentParser(
        prog="python -m labutils translations",
        description="Keep translations/<lang>/NN_*.yaml in step with solutions/: 'update' adds an entry for each "
                    "new or changed English text (a changed one keeps its old translation, marked fuzzy) and drops "
                    "entries no longer used; 'check' lists what still needs a translator.")
    parser.add_argument("action", choices=["update", "check"])
    parser.add_argument("--language", help="only this edition (default: every folder of translations/); "
                                           "a new code starts a new edition")
    parser.add_argument("--solutions", default=SOLUTIONS_DIR, help="folder of the English solutions (solutions/)")
    parser.add_argument("--translations", help="folder of the catalogs (default: translations/ beside --solutions)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        if args.action == "update":
            for path in update_catalogs(args.solutions, args.translations, args.language):
                print(f"wrote {path}")
        problems = catalog_problems(args.solutions, args.translations)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}")
        return 2
    if args.language:
        problems = [line for line in problems if f"/{args.language}/" in line]
    for line in problems:
        print(f"  {line}")
    print(f"{len(problems)} entries need a translator." if problems else "Every catalog is complete.")
    return 1 if problems and args.action == "check" else 0
