"""The student's view of labutils: a copy in which the exercises' reference implementations are stubs.

The probe process (the one whose results become grades) sees this copy instead of labutils,
wherever labutils is installed: with bubblewrap it is bound over every copy of labutils the
sandbox shows (a checkout, site-packages), so neither `import`, nor a path, nor a .pyc in
__pycache__ reaches the reference code; without bubblewrap it only comes first on the probe
process's sys.path. Each stub keeps the reference's name and bases, so the notebook's imports
still work, and raises NotImplementedError with HIDDEN_MARK in its message when called.
The kernel phase keeps the real labutils: no grade comes from it, and a notebook may use an
earlier step's reference (notebook 03 turns the text into integers with vectorize_string).
"""
from __future__ import annotations

import ast
import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Dict, Optional, Tuple

from labutils.exercises import REFERENCES

HIDDEN_MARK = "is hidden while the grader tests your code"
# module -> names replaced by stubs: the exercises' references and the probes' private copy of the loss
HIDDEN: Dict[str, Tuple[str, ...]] = {
    **{module: tuple(n for m, n in REFERENCES.values() if m == module) for module, _ in REFERENCES.values()},
    "labutils.exercises.probes": ("reference_compute_loss",)}

STUB = '''{indent}{head}
{indent}    """Hidden while grading: write your own {name}."""
{body}
'''


def _stub(node: ast.AST, source: str, name: str) -> str:
    """Source of a stub for the def or class `node`: same name (and bases), raises when used."""
    indent = " " * node.col_offset
    raise_line = f"raise NotImplementedError(\"labutils' reference {name} {HIDDEN_MARK}: write your own\")"
    if isinstance(node, ast.ClassDef):
        bases = ", ".join(ast.get_source_segment(source, b) or "object" for b in node.bases)
        head = f"class {name}({bases}):" if bases else f"class {name}:"
        body = f"{indent}    def __init__(self, *args, **kwargs):\n{indent}        {raise_line}"
    else:
        head = f"def {name}(*args, **kwargs):"
        body = f"{indent}    {raise_line}"
    return STUB.format(indent=indent, head=head, name=name, body=body)


def stub_source(source: str, names) -> str:
    """`source` with the top-level defs/classes in `names` (decorators included) replaced by stubs."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    replaced = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in names:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            replaced.append((first, node.end_lineno, _stub(node, source, node.name)))
    missing = set(names) - {node.name for node in tree.body if hasattr(node, "name")}
    if missing:
        raise ValueError(f"cannot hide {sorted(missing)}: not defined at the top level")
    for first, last, text in sorted(replaced, reverse=True):
        lines[first - 1:last] = [text]
    return "".join(lines)


def build_view(package: Path, folder: Path) -> Path:
    """Copy the labutils folder `package` to folder/labutils (no __pycache__), with the references stubbed."""
    target = folder / "labutils"
    shutil.copytree(package, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"))
    for module, names in HIDDEN.items():
        path = target.joinpath(*module.split(".")[1:]).with_suffix(".py")
        path.write_text(stub_source(path.read_text(encoding="utf-8"), names), encoding="utf-8")
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


_VIEW: Optional[Path] = None


def student_view() -> Path:
    """This process's student view of labutils (built once, removed at exit): the folder named labutils."""
    global _VIEW
    if _VIEW is None or not _VIEW.is_dir():
        import labutils

        folder = Path(tempfile.mkdtemp(prefix="labutils-view-"))
        os.chmod(folder, 0o711)  # an unprivileged uid passes through to the view, never lists or writes
        atexit.register(shutil.rmtree, folder, True)
        _VIEW = build_view(Path(labutils.__file__).resolve().parent, folder)
    return _VIEW
