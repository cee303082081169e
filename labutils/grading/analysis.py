"""What the grader learns from a notebook's text, read inside the kernel phase's sandbox (worker.py),
never in the grader's own process: the notebook itself, its language, each exercise's normalised code
(similarity.py) and the names an instructor should review. A notebook nested too deep, too large or
full of magics costs the worker its own time and memory, inside the notebook's limits.
"""
from __future__ import annotations

import json
from typing import Dict, List, Optional, Tuple

SUSPICIOUS = ("gc.", "get_objects", "get_referrers", "_getframe", "f_back", "f_globals", "ctypes", "setprofile",
              "settrace", "sys.modules", "importlib", "__code__", "FunctionType", "getsource", "builtins",
              "torch.save", "torch.load", "os.kill", "/proc", "socket", "subprocess", "os.fork", "os.system")


def _text(value) -> str:
    """A cell's source as one string (JSON notebooks store a string or a list of lines)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        return "".join(value)
    raise TypeError("a cell's source is neither text nor a list of lines")


def _cells(raw: Dict) -> List[Tuple[str, str]]:
    """(cell type, source) of each cell of a parsed .ipynb (nbformat 4, or 3's first worksheet)."""
    if "cells" in raw:
        cells = raw["cells"]
    else:
        cells = raw["worksheets"][0]["cells"]
    if not isinstance(cells, list):
        raise TypeError("'cells' is not a list")
    found = []
    for cell in cells:
        kind = cell["cell_type"]
        if not isinstance(kind, str):
            raise TypeError("a cell's type is not text")
        found.append((kind, _text(cell["input"] if kind == "code" and "input" in cell else cell["source"])))
    return found


class Node(dict):
    """A dict whose keys read as attributes, as nbformat's NotebookNode, without importing nbformat (and its
    jsonschema): a notebook whose cells are not run never needs it."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    __setattr__ = dict.__setitem__


def read_notebook(data: bytes):
    """(a clean notebook holding the file's cells and language mark, '') or (None, why it cannot be read)."""
    try:
        raw = json.loads(data)
        if not isinstance(raw, dict):
            raise TypeError("the file is not a JSON object")
        cells = _cells(raw)
        marks = raw.get("metadata", {}).get("labutils") if isinstance(raw.get("metadata"), dict) else None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError, MemoryError) as error:
        where = f" at line {error.lineno}, column {error.colno}" if isinstance(error, json.JSONDecodeError) else ""
        return None, f"not a readable notebook ({type(error).__name__}{where})"
    nb = Node(cells=[Node(cell_type=kind if kind in ("code", "markdown") else "raw", source=source, metadata=Node())
                     for kind, source in cells], metadata=Node())
    if isinstance(marks, dict) and isinstance(marks.get("language"), str):
        nb.metadata["labutils"] = {"language": marks["language"]}
    return nb, ""


def as_nbformat(nb):
    """The notebook of read_notebook as nbformat's (what the kernel runs): the same cells and metadata."""
    import nbformat

    maker = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell}
    notebook = nbformat.v4.new_notebook(cells=[maker.get(c.cell_type, nbformat.v4.new_raw_cell)(c.source)
                                               for c in nb.cells])
    notebook.metadata.update(nb.metadata)
    return notebook


def code_cells(nb, skip: List[int]) -> List[Dict]:
    """[{"index", "source"}] of the notebook's code cells (for the probe process), but `skip`."""
    return [{"index": i, "source": str(c.source)} for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and i not in skip]


def suspicious_names(nb) -> List[str]:
    """Names in the notebook's code that reach into the grader's process (for the instructor to review).

    The lab's own Colab set-up cell (which installs packages with subprocess) is left out when it
    is exactly as the build wrote it."""
    from labutils.notebooks import setup_cell_source

    setup = setup_cell_source()
    text = "\n".join(str(c.source) for c in nb.cells if c.cell_type == "code" and str(c.source) != setup)
    return [name for name in SUSPICIOUS if name in text]


def exercise_bindings(nb) -> Tuple[List[str], Dict[str, str], Optional[int]]:
    """(the exercises the notebook's own code binds, {exercise: labutils module} of those it only imports,
    the index in nb.cells of the last code cell that binds one itself, None when none does).

    A cell that is not Python even without its magics, or a star import, counts as binding every exercise."""
    import ast

    from labutils.exercises import EXERCISES
    from labutils.grading.probe_process import bound_names, stored_names
    from labutils.grading.similarity import cell_trees

    defined, imported, last, everything = set(), {}, None, False
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    for index, tree in zip(code, cell_trees(nb)):
        for node in tree.body if tree is not None else ():
            names = bound_names(node)
            names = stored_names(node) if names is None else names
            from_labutils = isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "labutils"
            if "*" in names:
                everything, last = True, index
            for name in set(names) & set(EXERCISES):
                if from_labutils:
                    imported[name] = node.module
                else:
                    defined.add(name)
                    last = index
        if tree is None:
            everything, last = True, index
    if everything:
        return list(EXERCISES), {}, last
    return [e for e in EXERCISES if e in defined], {e: m for e, m in imported.items() if e not in defined}, last


def what_the_text_says(nb) -> Dict:
    """{"language", "digests", "suspicious", "defines", "imports", "last_exercise_cell"}: the feedback's language,
    exercise digests, names to review, the exercises the notebook binds itself and those it only imports from
    labutils, and the last code cell that binds one itself (exercise_bindings)."""
    from labutils.grading.similarity import exercise_digests
    from labutils.messages import notebook_language

    defines, imports, last = exercise_bindings(nb)
    return {"language": notebook_language(nb), "digests": exercise_digests(nb), "suspicious": suspicious_names(nb),
            "defines": defines, "imports": imports, "last_exercise_cell": last}

