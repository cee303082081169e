"""Editions of the notebooks in other languages, generated from the English solutions and a catalog.

For each language folder `translations/<lang>/` (e.g. `translations/zh/`), the notebook build
also writes `solutions/<lang>/NN_*.ipynb` and `notebooks/<lang>/NN_*.ipynb`. They are the English
solution with its prose translated from `translations/<lang>/NN_*.yaml`:

* markdown cells, paragraph by paragraph (paragraphs are separated by blank lines; fenced code
  and the Colab badge stay as they are);
* the `# TODO: <hint>` lines, which become the student notebook's NotImplementedError message;
* comments in code cells (a block of whole-line comments is one entry, a comment after code
  another). The code itself is never touched.

Each catalog entry holds the English text (`en`), its fingerprint (`fp`, a hash of `en`) and the
translation (`zh`). The build looks entries up by the fingerprint of the English it meets, so an
English sentence that changed finds no translation: the edition keeps the English there, and
`build-notebooks --check` lists the entry as missing (with the old English it replaced), until
`python -m labutils translations update` adds it (marked fuzzy, with the old translation) and a
translator writes the new one. Each edition also gets a cell that sets the check messages'
language (`labutils.checks.set_language`).
"""
from __future__ import annotations

import argparse
import copy
import difflib
import hashlib
import io
import os
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

TRANSLATIONS_DIR = "translations"
LANGUAGE_TAG = "edition-language"
KINDS = ("markdown", "todo", "comment")
_FENCE = re.compile(r"^\s*(```|~~~)")
_MARKER = re.compile(r"^#\s*(## (BEGIN|END) SOLUTION|NBVAL_\w+)\s*$")
_TODO = "# TODO:"
# The cell each edition gets right after the set-up cell: the check messages in its language.
LANGUAGE_CELLS = {
    "zh": ("# 让检查函数（labutils.checks）用中文给出结果和提示。\n"
           "import labutils.checks\n\n"
           'labutils.checks.set_language("zh")'),
}


def fingerprint(text: str) -> str:
    """The catalog key of an English text: 12 hex digits of its SHA-256 (surrounding blanks ignored)."""
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Unit:
    """One piece of English prose that a catalog translates."""

    kind: str  # markdown, todo or comment
    en: str
    where: str  # e.g. "cell 3", for messages


# --- markdown ------------------------------------------------------------------------------------


def _paragraphs(source: str) -> List[str]:
    """The cell's blocks separated by blank lines; a fenced code block stays one block."""
    blocks: List[List[str]] = [[]]
    fenced = False
    for line in source.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        if not line.strip() and not fenced:
            if blocks[-1]:
                blocks.append([])
            continue
        blocks[-1].append(line)
    return ["\n".join(block) for block in blocks if block]


def _translatable_paragraph(paragraph: str) -> bool:
    from labutils.notebooks import _BADGE

    if _FENCE.match(paragraph) or not re.search(r"[A-Za-z]{2}", paragraph):
        return False
    return not _BADGE.fullmatch(paragraph.strip())


def translate_markdown(source: str, lookup: Callable[[Unit], Optional[str]], where: str = "") -> str:
    """The markdown cell with each paragraph that `lookup` translates replaced (paragraphs joined by one blank line)."""
    out = []
    for paragraph in _paragraphs(source):
        if _translatable_paragraph(paragraph):
            paragraph = lookup(Unit("markdown", paragraph, where)) or paragraph
        out.append(paragraph)
    return "\n\n".join(out)


# --- code comments -------------------------------------------------------------------------------


def _comments(source: str) -> Optional[Dict[int, Tuple[int, str]]]:
    """{line index: (column, comment text)} of the cell's comments, or None when it does not tokenize."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    return {tok.start[0] - 1: (tok.start[1], tok.string) for tok in tokens if tok.type == tokenize.COMMENT}


def _comment_text(comment: str) -> str:
    return comment[1:].strip()


def translate_code(source: str, lookup: Callable[[Unit], Optional[str]], where: str = "") -> str:
    """The code cell with its comments translated where `lookup` has them; code lines stay byte for byte."""
    comments = _comments(source)
    if not comments:
        return source
    lines = source.split("\n")
    out: List[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if i not in comments:
            out.append(line)
            i += 1
            continue
        column, comment = comments[i]
        indent = line[:column]
        if line[:column].strip():  # a comment after code: one line, kept on that line
            zh = lookup(Unit("comment", _comment_text(comment), where))
            out.append(f"{line[:column]}# {zh}" if zh and "\n" not in zh else line)
            i += 1
            continue
        if _MARKER.match(comment.strip()):
            out.append(line)
            i += 1
            continue
        if comment.startswith(_TODO):
            zh = lookup(Unit("todo", comment[len(_TODO):].strip(), where))
            out.append(f"{indent}{_TODO} {zh}" if zh and "\n" not in zh else line)
            i += 1
            continue
        block = [i]  # consecutive whole-line comments at the same indentation: one entry
        while (block[-1] + 1 in comments and comments[block[-1] + 1][0] == column
               and not lines[block[-1] + 1][:column].strip()
               and not _MARKER.match(comments[block[-1] + 1][1].strip())
               and not comments[block[-1] + 1][1].startswith(_TODO)):
            block.append(block[-1] + 1)
        english = "\n".join(_comment_text(comments[j][1]) for j in block)
        zh = lookup(Unit("comment", english, where)) if re.search(r"[A-Za-z]{2}", english) else None
        if zh:
            out += [f"{indent}# {text}".rstrip() for text in zh.split("\n")]
        else:
            out += [lines[j] for j in block]
        i = block[-1] + 1
    return "\n".join(out)


# --- notebooks -----------------------------------------------------------------------------------


def translate_notebook(nb, lookup: Callable[[Unit], Optional[str]]):
    """A copy of the notebook with markdown, TODO hints and comments translated (the set-up cell stays)."""
    from labutils.notebooks import _is_setup_cell

    nb = copy.deepcopy(nb)
    for index, cell in enumerate(nb.cells):
        where = f"cell {index + 1}"
        if cell.cell_type == "markdown":
            cell.source = translate_markdown(cell.source, lookup, where)
        elif cell.cell_type == "code" and not _is_setup_cell(cell):
            cell.source = translate_code(cell.source, lookup, where)
    return nb


def english_units(nb) -> List[Unit]:
    """Every piece of prose of a solution notebook that its catalog should translate, in order, each once."""
    units: Dict[Tuple[str, str], Unit] = {}

    def record(unit: Unit) -> None:
        units.setdefault((unit.kind, fingerprint(unit.en)), unit)

    translate_notebook(nb, lambda unit: record(unit))
    return list(units.values())


# --- catalogs ------------------------------------------------------------------------------------


class Catalog:
    """One notebook's translations: translations/<lang>/<notebook stem>.yaml."""

    def __init__(self, path: Path, language: str, source: str, entries: List[Dict]):
        self.path, self.language, self.source, self.entries = Path(path), language, source, entries

    @classmethod
    def load(cls, path: Path, language: str, source: str) -> Catalog:
        import yaml

        from labutils.notebooks import BuildError

        path = Path(path)
        if not path.is_file():
            return cls(path, language, source, [])
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise BuildError(f"{path}: not valid YAML ({error}). Fix the file or restore it from git.") from None
        entries = data.get("entries") or []
        for number, entry in enumerate(entries, start=1):
            if not isinstance(entry, dict) or not isinstance(entry.get("en"), str):
                raise BuildError(f"{path}: entry {number} has no English text ('en'); each entry needs fp, kind, "
                                 "en and zh.")
        return cls(path, language, source, entries)

    def translations(self) -> Dict[Tuple[str, str], str]:
        """{(kind, fingerprint): translation} of the entries that are translated, not fuzzy and not tampered."""
        found = {}
        for entry in self.entries:
            text = entry.get(self.language)
            if text and not entry.get("fuzzy") and entry.get("fp") == fingerprint(entry["en"]):
                found[(entry.get("kind", "markdown"), entry["fp"])] = str(text).strip("\n")
        return found

    def lookup(self) -> Callable[[Unit], Optional[str]]:
        found = self.translations()
        return lambda unit: found.get((unit.kind, fingerprint(unit.en)))

    def problems(self, units: Sequence[Unit]) -> List[str]:
        """What keeps the catalog from translating `units`: missing, changed, fuzzy, untranslated, unused entries."""
        lang = self.language
        by_key = {(e.get("kind", "markdown"), e.get("fp")): e for e in self.entries}
        wanted = {(u.kind, fingerprint(u.en)) for u in units}
        unused = [e for key, e in by_key.items() if key not in wanted]
        problems = []
        for entry in self.entries:
            if entry.get("fp") != fingerprint(entry["en"]):
                problems.append(f"entry {_excerpt(entry['en'])}: fp {entry.get('fp')} is not the fingerprint of its "
                                f"English ({fingerprint(entry['en'])}); the English was edited in the catalog")
        for unit in units:
            entry = by_key.get((unit.kind, fingerprint(unit.en)))
            if entry is None:
                old = _closest(unit, unused)
                problems.append(f"{unit.where}: {unit.kind} {_excerpt(unit.en)} has no entry" +
                                (f" (English changed; the entry was for {_excerpt(old['en'])})" if old else ""))
            elif entry.get("fuzzy"):
                problems.append(f"{unit.where}: {unit.kind} {_excerpt(unit.en)} is marked fuzzy: check the {lang} "
                                "text and remove 'fuzzy'")
            elif not entry.get(lang):
                problems.append(f"{unit.where}: {unit.kind} {_excerpt(unit.en)} has no {lang} text yet")
        problems += [f"unused entry {_excerpt(e['en'])} (its English is no longer in {self.source})" for e in unused]
        return problems

    def updated(self, units: Sequence[Unit]) -> Catalog:
        """The catalog with one entry per unit, in order: kept, new (empty) or changed (old translation, fuzzy)."""
        by_key = {(e.get("kind", "markdown"), e.get("fp")): e for e in self.entries
                  if e.get("fp") == fingerprint(e["en"])}
        wanted = {(u.kind, fingerprint(u.en)) for u in units}
        unused = [e for key, e in by_key.items() if key not in wanted]
        entries = []
        for unit in units:
            key = (unit.kind, fingerprint(unit.en))
            if key in by_key:
                entries.append(by_key[key])
                continue
            entry = {"fp": key[1], "kind": unit.kind, "en": unit.en, self.language: ""}
            old = _closest(unit, unused)
            if old is not None and old.get(self.language):
                unused.remove(old)
                entry.update({self.language: old[self.language], "fuzzy": True, "en_before": old["en"]})
            entries.append(entry)
        return Catalog(self.path, self.language, self.source, entries)

    def render(self) -> str:
        """The catalog as YAML: a short header, then one entry per piece of prose, multi-line texts as blocks."""
        import yaml

        class Dumper(yaml.SafeDumper):
            pass

        def text(dumper, value):
            style = "|" if "\n" in value else None
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

        Dumper.add_representer(str, text)
        header = (f"# {self.language} translation of {self.source}. One entry per paragraph, TODO hint or comment;\n"
                  f"# fp is the fingerprint of en. After an English change: python -m labutils translations update,\n"
                  f"# then translate the new entries and those marked fuzzy (and delete 'fuzzy' and 'en_before').\n")
        body = yaml.dump({"language": self.language, "source": self.source, "entries": self.entries}, Dumper=Dumper,
                         allow_unicode=True, sort_keys=False, width=1000, default_flow_style=False)
        return header + body


def _excerpt(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= width else flat[: width - 3] + "...")


def _closest(unit: Unit, entries: Sequence[Dict]) -> Optional[Dict]:
    """The entry of the same kind whose English is most like the unit's (None below 60% alike)."""
    best, score = None, 0.6
    for entry in entries:
        if entry.get("kind", "markdown") != unit.kind:
            continue
        ratio = difflib.SequenceMatcher(None, entry["en"], unit.en).ratio()
        if ratio > score:
            best, score = entry, ratio
    return best


# --- what the build writes -----------------------------------------------------------------------


def languages(translations_dir: Path) -> List[str]:
    """The editions: one per folder of translations_dir that has a catalog."""
    if not translations_dir.is_dir():
        return []
    return sorted(p.name for p in translations_dir.iterdir() if p.is_dir() and any(p.glob("[0-9][0-9]_*.yaml")))


def default_translations_dir(solutions_dir) -> Path:
    """translations/ beside the solutions folder."""
    return Path(solutions_dir).resolve().parent / TRANSLATIONS_DIR


def catalog_for(translations_dir: Path, language: str, solution: Path) -> Catalog:
    from labutils.notebooks import SOLUTIONS_DIR

    return Catalog.load(translations_dir / language / f"{solution.stem}.yaml", language,
                        f"{SOLUTIONS_DIR}/{solution.name}")


def _with_language_cell(nb, language: str):
    import nbformat

    from labutils.notebooks import _is_setup_cell

    nb = copy.deepcopy(nb)
    cells = [c for c in nb.cells if LANGUAGE_TAG not in c.get("metadata", {}).get("tags", [])]
    at = next((i + 1 for i, c in enumerate(cells) if _is_setup_cell(c)), 1)
    cell = nbformat.v4.new_code_cell(LANGUAGE_CELLS.get(language, f'import labutils.checks\n\n'
                                                                  f'labutils.checks.set_language("{language}")'),
                                     metadata={"tags": [LANGUAGE_TAG]})
    cell["id"] = LANGUAGE_TAG
    nb.cells = cells[:at] + [cell] + cells[at:]
    return nb


def edition_notebooks(solution_nb, name: str, language: str, catalog: Catalog) -> Tuple[object, object]:
    """(solution, student) notebooks of one edition; `solution_nb` is the English solution named `name`."""
    from labutils.notebooks import NOTEBOOKS_DIR, SOLUTIONS_DIR, student_notebook, with_header

    translated = _with_language_cell(translate_notebook(solution_nb, catalog.lookup()), language)
    marks = {"generated_from": f"{SOLUTIONS_DIR}/{name}", "translation": f"{TRANSLATIONS_DIR}/{language}/"
             f"{Path(name).stem}.yaml", "language": language,
             "note": "Written by `python -m labutils build-notebooks`; edit the English solution and the catalog."}
    solution = with_header(translated, f"{SOLUTIONS_DIR}/{language}/{name}")
    solution.metadata["labutils"] = dict(marks)
    student = with_header(student_notebook(translated, name), f"{NOTEBOOKS_DIR}/{language}/{name}")
    student.metadata["labutils"] = dict(marks)
    return solution, student


def planned(solutions_dir, out_dir, translations_dir=None) -> Dict[Path, str]:
    """{path: text} of every edition notebook the build writes (nothing when there are no translations)."""
    import nbformat

    from labutils.notebooks import _solution_files, render

    solutions_dir, out_dir = Path(solutions_dir), Path(out_dir)
    translations_dir = Path(translations_dir) if translations_dir else default_translations_dir(solutions_dir)
    files: Dict[Path, str] = {}
    for language in languages(translations_dir):
        for path in _solution_files(solutions_dir):
            nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
            solution, student = edition_notebooks(nb, path.name, language, catalog_for(translations_dir, language, path))
            files[solutions_dir / language / path.name] = render(solution)
            files[out_dir / language / path.name] = render(student)
    return files


def stale(solutions_dir, planned_files: Dict[Path, str]) -> List[Path]:
    """Edition solutions (solutions/<lang>/, marked with their language) that the build would no longer write.

    The student editions, notebooks/<lang>/, are in the build's manifest like the English ones."""
    import json

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


def catalog_problems(solutions_dir, translations_dir=None) -> List[str]:
    """One line per catalog entry that is missing, changed, fuzzy, untranslated or unused, for every edition."""
    import nbformat

    from labutils.notebooks import _solution_files

    solutions_dir = Path(solutions_dir)
    translations_dir = Path(translations_dir) if translations_dir else default_translations_dir(solutions_dir)
    lines = []
    for language in languages(translations_dir):
        names = {path.stem for path in _solution_files(solutions_dir)}
        lines += [f"{catalog}: there is no {solutions_dir.name}/{catalog.stem}.ipynb any more; delete the catalog"
                  for catalog in sorted((translations_dir / language).glob("[0-9][0-9]_*.yaml"))
                  if catalog.stem not in names]
        for path in _solution_files(solutions_dir):
            catalog = catalog_for(translations_dir, language, path)
            units = english_units(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))
            shown = os.path.relpath(catalog.path) if catalog.path.is_relative_to(Path.cwd()) else catalog.path
            lines += [f"{shown}: {problem}" for problem in catalog.problems(units)]
    return lines


def update_catalogs(solutions_dir, translations_dir=None, language: Optional[str] = None) -> List[Path]:
    """Rewrite the catalogs so each has one entry per piece of English prose; return the files changed."""
    import nbformat

    from labutils.files import atomic_write_text
    from labutils.notebooks import _solution_files

    solutions_dir = Path(solutions_dir)
    translations_dir = Path(translations_dir) if translations_dir else default_translations_dir(solutions_dir)
    changed = []
    for lang in [language] if language else languages(translations_dir):
        (translations_dir / lang).mkdir(parents=True, exist_ok=True)
        for path in _solution_files(solutions_dir):
            catalog = catalog_for(translations_dir, lang, path)
            units = english_units(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))
            text = catalog.updated(units).render()
            if not catalog.path.is_file() or catalog.path.read_text(encoding="utf-8") != text:
                atomic_write_text(catalog.path, text)
                changed.append(catalog.path)
    return changed


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -m labutils translations update|check [--language zh]`: the maintainers' catalog tool."""
    from labutils.notebooks import SOLUTIONS_DIR

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
