"""`import labutils` reaches every module of the package, and the package has no import cycle."""
import subprocess
import sys
from pathlib import Path

import pytest

import labutils

ROOT = Path(labutils.__file__).parent


def _modules_on_disk():
    """Dotted names of every module file under labutils/ (packages by their folder)."""
    names = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if parts[-1] == "__main__":
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_the_submodule_list_is_the_files_on_disk():
    on_disk = {p.stem if p.suffix == ".py" else p.name for p in ROOT.iterdir()
               if (p.suffix == ".py" and not p.name.startswith("__")) or (p / "__init__.py").is_file()}
    assert set(labutils.SUBMODULES) == on_disk


def test_every_module_is_reachable_by_attribute_after_import_labutils():
    names = [n for n in _modules_on_disk() if n != "labutils"]
    script = ("import labutils, sys\nbad = []\n"
              f"for name in {names!r}:\n"
              "    obj = labutils\n"
              "    try:\n"
              "        for part in name.split('.')[1:]:\n"
              "            obj = getattr(obj, part)\n"
              "    except AttributeError as error:\n"
              "        bad.append(f'{name}: {error}')\n"
              "print('\\n'.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         cwd=ROOT.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "", out.stdout


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_module"):
        labutils.no_such_module  # noqa: B018


def _imports(path: Path, name: str, known: set) -> set:
    """The labutils modules that module `name` (file `path`) imports, at any level of the file."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
                package = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{package}.{base}" if base else package
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target not in (name, "labutils"):
                found.add(target)
    return found


def test_no_import_cycle():
    files = {n: ROOT.parent / (n.replace(".", "/") + ("/__init__.py" if (ROOT.parent / n.replace(".", "/")).is_dir()
                                                       else ".py")) for n in _modules_on_disk()}
    graph = {name: _imports(path, name, set(files)) for name, path in files.items()}

    def reaches(start, goal):
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    cycles = sorted({" <-> ".join(sorted((a, b))) for a in graph for b in graph[a] if reaches(b, a)})
    assert cycles == []


def test_functions_and_modules_stay_short():
    import ast

    too_long = []
    for path in sorted(ROOT.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 450:
            too_long.append(f"{path.relative_to(ROOT.parent)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                too_long.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} {node.name}")
    assert too_long == []
