"""Exercise code for the instructor to review: identical to labutils' reference, or to another student's.

Normalisation: the exercise's last top-level def/class in the notebook, parsed (comments and layout
go), without docstrings and type annotations, under the exercise's name; then compared as ast.dump."""
from __future__ import annotations

import ast
import hashlib
from typing import Dict, List, Optional

from labutils.exercises import EXERCISES, REFERENCES


class _Strip(ast.NodeTransformer):
    """Drops docstrings and type annotations."""

    def _body(self, node):
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:] or [ast.Pass()]
        node.body = body
        return node

    def visit_FunctionDef(self, node):
        self.generic_visit(node)
        node.returns = None
        for arg in node.args.args + node.args.kwonlyargs + node.args.posonlyargs:
            arg.annotation = None
        return self._body(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self.generic_visit(node)
        return self._body(node)


def normalise(node: ast.AST, name: str) -> str:
    """The code of a def/class as compared: no docstrings or annotations, under `name`, as ast.dump."""
    node = _Strip().visit(ast.parse(ast.unparse(node)).body[0])
    node.name = name
    return ast.dump(node, annotate_fields=False, include_attributes=False)


def digest(text: str) -> str:
    """A short hash of `text`."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cell_trees(nb):
    """The parsed tree of each code cell, or None for one that is not Python even without its magics.

    Cells are read as the probe process reads them (magic lines stripped in linear time)."""
    from labutils.grading.probe_process import parse_cell

    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            yield parse_cell(str(cell.source))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            yield None


def exercise_digests(nb) -> Dict[str, str]:
    """{exercise: digest of its normalised code} for the exercises the notebook defines at top level."""
    found: Dict[str, str] = {}
    for tree in cell_trees(nb):
        for node in tree.body if tree is not None else ():
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in EXERCISES:
                try:
                    found[node.name] = digest(normalise(node, node.name))
                except (SyntaxError, ValueError, RecursionError):
                    continue
    return found


_REFERENCE_DIGESTS: Optional[Dict[str, str]] = None


def _reference_node(module: str, name: str) -> ast.AST:
    """The top-level def/class `name` of labutils module `module`, parsed from its file (not imported: the
    grader's own process never needs torch for it)."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    with open(spec.origin, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    return next(node for node in tree.body if getattr(node, "name", None) == name
                and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))


def reference_digests() -> Dict[str, str]:
    """{exercise: digest of labutils' reference code}, normalised the same way."""
    global _REFERENCE_DIGESTS
    if _REFERENCE_DIGESTS is None:
        _REFERENCE_DIGESTS = {exercise: digest(normalise(_reference_node(module, attr), exercise))
                              for exercise, (module, attr) in REFERENCES.items()}
    return _REFERENCE_DIGESTS


def flag_grades(grades: List[Dict]) -> None:
    """Add grade["flags"]: code identical to the reference, and to other students' (passing exercises only)."""
    references = reference_digests()
    owners: Dict[tuple, List[str]] = {}
    for grade in grades:
        grade.setdefault("flags", [])
        for exercise, result in grade["exercises"].items():
            code = result.get("code")
            if not code or result.get("status") != "pass":
                continue
            if code == references.get(exercise):
                grade["flags"].append(f"{exercise} is identical to labutils' reference")
            owners.setdefault((exercise, code), []).append(grade["student"])
    for (exercise, _), students in owners.items():
        if len(students) > 1:
            for grade in grades:
                if grade["student"] in students:
                    others = ", ".join(s for s in students if s != grade["student"])
                    grade["flags"].append(f"{exercise} is identical to {others}'s")


def identical_pairs(grades: List[Dict]) -> List[Dict]:
    """[{exercise, students}] for grades.json."""
    owners: Dict[tuple, List[str]] = {}
    for grade in grades:
        for exercise, result in grade["exercises"].items():
            if result.get("code") and result.get("status") == "pass":
                owners.setdefault((exercise, result["code"]), []).append(grade["student"])
    return [{"exercise": e, "students": s} for (e, _), s in owners.items() if len(s) > 1]
