"""The English prose of a notebook, and the notebook with that prose translated; the code stays byte for byte.

What is prose:

* markdown cells, paragraph by paragraph (paragraphs are separated by blank lines; fenced code
  and the Colab badge stay as they are);
* the `# TODO: <hint>` lines, which become the student notebook's NotImplementedError message;
* comments in code cells (a block of whole-line comments is one unit, a comment after code
  another). Solution and nbval markers, and the set-up cell, stay as they are.

A translation is a function from a Unit to its text in the other language, or None to keep the
English (catalogs.Catalog.lookup makes one from a catalog).
"""
from __future__ import annotations

import copy
import io
import re
import tokenize
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from labutils.authoring.sources import text_sha256
from labutils.authoring.transforms import TODO_PREFIX, is_marker
from labutils.notebooks import BADGE_PATTERN, is_setup_cell

_FENCE = re.compile(r"^\s*(```|~~~)")
_WORD = re.compile(r"[A-Za-z]{2}")  # prose has at least one word of two letters


@dataclass(frozen=True)
class Unit:
    """One piece of English prose that a catalog translates."""

    kind: str  # markdown, todo or comment
    en: str
    where: str  # e.g. "cell 3", for messages


Lookup = Callable[[Unit], Optional[str]]


def fingerprint(text: str) -> str:
    """The catalog key of an English text: 12 hex digits of its SHA-256 (surrounding blanks ignored)."""
    return text_sha256(text.strip())[:12]


# --- markdown ------------------------------------------------------------------------------------


def paragraphs(source: str) -> List[str]:
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
    """True for prose: not fenced code, not the Colab badge, and with at least one word."""
    if _FENCE.match(paragraph) or not _WORD.search(paragraph):
        return False
    return not BADGE_PATTERN.fullmatch(paragraph.strip())


def translate_markdown(source: str, lookup: Lookup, where: str = "") -> str:
    """The markdown cell with each paragraph that `lookup` translates replaced (paragraphs joined by one blank line)."""
    out = []
    for paragraph in paragraphs(source):
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
    """A comment's text without its '#' and surrounding blanks."""
    return comment[1:].strip()


def _one_line(text: Optional[str]) -> Optional[str]:
    """A translation that fits on one line, else None (keep the English)."""
    return text if text and "\n" not in text else None


def _comment_block(lines: List[str], comments: Dict[int, Tuple[int, str]], first: int) -> List[int]:
    """The line indexes of the whole-line comments that start at `first`, all at its indentation."""
    column = comments[first][0]
    block = [first]
    while (block[-1] + 1 in comments and comments[block[-1] + 1][0] == column
           and not lines[block[-1] + 1][:column].strip()
           and not is_marker(comments[block[-1] + 1][1])
           and not comments[block[-1] + 1][1].startswith(TODO_PREFIX)):
        block.append(block[-1] + 1)
    return block


def translate_code(source: str, lookup: Lookup, where: str = "") -> str:
    """The code cell with its comments translated where `lookup` has them; code lines stay byte for byte."""
    comments = _comments(source)
    if not comments:
        return source
    lines = source.split("\n")
    out: List[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        column, comment = comments.get(i, (0, ""))
        indent = line[:column]
        if i not in comments:
            out.append(line)
        elif indent.strip():  # a comment after code: one line, kept on that line
            text = _one_line(lookup(Unit("comment", _comment_text(comment), where)))
            out.append(f"{indent}# {text}" if text else line)
        elif is_marker(comment):
            out.append(line)
        elif comment.startswith(TODO_PREFIX):
            text = _one_line(lookup(Unit("todo", comment[len(TODO_PREFIX):].strip(), where)))
            out.append(f"{indent}{TODO_PREFIX} {text}" if text else line)
        else:  # consecutive whole-line comments at the same indentation: one unit
            block = _comment_block(lines, comments, i)
            english = "\n".join(_comment_text(comments[j][1]) for j in block)
            text = lookup(Unit("comment", english, where)) if _WORD.search(english) else None
            out += [f"{indent}# {part}".rstrip() for part in text.split("\n")] if text else [lines[j] for j in block]
            i = block[-1]
        i += 1
    return "\n".join(out)


# --- notebooks -----------------------------------------------------------------------------------


def translate_notebook(nb, lookup: Lookup):
    """A copy of the notebook with markdown, TODO hints and comments translated (the set-up cell stays)."""
    nb = copy.deepcopy(nb)
    for index, cell in enumerate(nb.cells):
        where = f"cell {index + 1}"
        if cell.cell_type == "markdown":
            cell.source = translate_markdown(cell.source, lookup, where)
        elif cell.cell_type == "code" and not is_setup_cell(cell):
            cell.source = translate_code(cell.source, lookup, where)
    return nb


def english_units(nb) -> List[Unit]:
    """Every piece of prose of a solution notebook that its catalog should translate, in order, each once."""
    units: Dict[Tuple[str, str], Unit] = {}

    def record(unit: Unit) -> None:
        units.setdefault((unit.kind, fingerprint(unit.en)), unit)

    translate_notebook(nb, record)
    return list(units.values())
