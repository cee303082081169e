"""One notebook at a time: the Colab header put in, solution regions turned into TODOs, the student notebook.

In a solution's code cell, each region between `### BEGIN SOLUTION` and `### END SOLUTION`
becomes `raise NotImplementedError("TODO: <hint>")`, where the hint is the `# TODO:` comment
line kept just above the region. Outputs, execution counts and nbval markers are removed and
metadata is reduced to a fixed set, so the same solution always gives the same bytes.
"""
from __future__ import annotations

import ast
import copy
import re
from typing import List, Tuple

from labutils.authoring.sources import NOTEBOOKS_DIR, SOLUTIONS_DIR, BuildError
from labutils.notebooks import BADGE_PATTERN, SETUP_TAG, badge_markdown, is_setup_cell, setup_cell_source

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
TODO_PREFIX = "# TODO:"
_NBVAL_LINE = re.compile(r"^\s*#\s*NBVAL_\w+\s*$")  # nbval's markers: '# NBVAL_SKIP', also without the space
_KEPT_NOTEBOOK_METADATA = ("kernelspec", "accelerator", "colab")


def is_marker(line: str) -> bool:
    """True for a line the build reads and leaves out: BEGIN/END SOLUTION or an nbval marker."""
    return line.strip() in (BEGIN_SOLUTION, END_SOLUTION) or bool(_NBVAL_LINE.match(line))


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
    if BADGE_PATTERN.search(first.source):
        first.source = BADGE_PATTERN.sub(lambda _: badge, first.source)
    else:  # put the badge right under the title line
        lines = first.source.split("\n")
        first.source = "\n".join(lines[:1] + ["", badge] + lines[1:])
    setup = [i for i, cell in enumerate(cells) if is_setup_cell(cell)]
    if len(setup) > 1:
        raise BuildError(f"{repo_path}: {len(setup)} cells are tagged {SETUP_TAG!r}; keep one.")
    if setup:
        cells[setup[0]].source = setup_cell_source()
    else:
        cell = nbformat.v4.new_code_cell(setup_cell_source(), metadata={"tags": [SETUP_TAG]})
        cell["id"] = "colab-setup"
        cells.insert(1, cell)
    return nb


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
            if not is_marker(line):
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
