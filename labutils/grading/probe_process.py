"""The grader's probe process: re-run a notebook's definitions in a fresh namespace, probe each exercise.

LOADED AS TEXT, like labutils/exercises/probes.py: the probe phase (phases.py) starts a fresh process
in a sandbox of its own whose bootstrap reads both files from its stdin into private modules (never in
sys.modules) before any student code runs, binds the result channel and calls `main`. Standard library
only at module level; torch and the probes come in as `probes`. The labutils this process can import
is the student view (view.py): the exercises' references are stubs, and a probe that ran into one
counts as calling the reference. The grader's worker imports `parse_cell` and `definitions` as a module.
"""
import ast
import re

ALLOWED_CALLS = {"torch.device", "lab_vocab", "dict", "list", "tuple", "set", "int", "float", "str", "range", "len",
                 "np.array", "np.arange", "frozenset"}
# A line IPython reads as a magic or a shell command: `%time ...`, `!ls`, `files = !ls`, `x = %env HOME`
MAGIC_LINE = re.compile(r"^(\s*)(?:[%!]|[\w.,*\s]+=\s*[%!])")


def _call_name(node):
    """The dotted name a call calls (`torch.device`), or None when it is not a plain name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _cheap(value):
    """True for assigned values the probe process may recompute: no calls but a few harmless ones."""
    return all(not isinstance(n, ast.Call) or _call_name(n.func) in ALLOWED_CALLS for n in ast.walk(value)) and not any(
        isinstance(n, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.NamedExpr,
                       ast.Await, ast.Yield, ast.YieldFrom)) for n in ast.walk(value))


def _names_only(target):
    """True when an assignment target is a name or a tuple/list of names."""
    if isinstance(target, ast.Name):
        return True
    return isinstance(target, (ast.Tuple, ast.List)) and all(_names_only(t) for t in target.elts)


def definitions(source):
    """The statements of a cell the probe process re-runs: imports, def, class and cheap assignments to names."""
    tree = source if isinstance(source, ast.Module) else ast.parse(source)
    keep = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            keep.append(node)
        elif isinstance(node, ast.Assign) and all(_names_only(t) for t in node.targets) and _cheap(node.value):
            keep.append(node)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None \
                and _cheap(node.value):
            keep.append(node)
    return ast.Module(body=keep, type_ignores=[])


def strip_magics(source):
    """The cell with each magic or shell line (and its continuation lines) replaced by `pass`; '' for a cell magic.

    Linear in the cell's size, unlike IPython's own transformation, and only used when the cell is not
    plain Python already: a program text stays as it is."""
    if source.lstrip().startswith("%%"):
        return ""
    lines, continued, indent = source.split("\n"), False, ""
    for i, line in enumerate(lines):
        magic = MAGIC_LINE.match(line)
        if continued or magic:
            indent = indent if continued else magic.group(1)
            continued = line.rstrip().endswith("\\")
            lines[i] = indent + "pass"
    return "\n".join(lines)


def parse_cell(source):
    """The cell's syntax tree: as Python, else with its magic lines stripped (SyntaxError when neither parses)."""
    try:
        return ast.parse(source)
    except SyntaxError:
        return ast.parse(strip_magics(source))


def _note_skipped_names(full, kept, cell_index, skipped_names):
    """Record the names set by top-level code of a cell that the probe process does not re-run."""
    kept_ids = {id(n) for n in kept.body}
    for node in full.body:
        if id(node) not in kept_ids and isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.With)):
            for n in ast.walk(node):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                    skipped_names.setdefault(n.id, cell_index)


def rerun_definitions(probes, cell, namespace, seconds_each, results):
    """Run one cell's definitions in `namespace`, each statement under the time limit; note what failed."""
    try:
        full = parse_cell(cell["source"])
        tree = definitions(full)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        results["definition_errors"].append({"cell": cell["index"], "error": type(error).__name__})
        return
    for node in tree.body:
        try:
            with probes.time_limit(seconds_each):
                exec(compile(ast.Module(body=[node], type_ignores=[]), f"<cell {cell['index'] + 1}>", "exec"),
                     namespace)
        except (Exception, SystemExit, probes.ProbeTimeout) as error:  # the kernel run reports these already
            results["definition_errors"].append({"cell": cell["index"], "error": type(error).__name__})
    _note_skipped_names(full, tree, cell["index"], results["skipped_names"])


def _missing(name, namespace):
    """The "missing" result (with where the name came from) when the notebook did not define `name`, else None."""
    if name not in namespace:
        return {"error": "missing"}
    obj = namespace[name]
    if getattr(obj, "__module__", None) != "__main__":
        return {"error": "missing", "meta": {"module": str(getattr(obj, "__module__", ""))}}
    return None


def _hidden_reference(result, hidden_mark):
    """A probe result that ran into a stub of the student view counts as calling labutils' reference."""
    message = str(result.get("message", ""))
    if result.get("error") not in ("not_implemented", "exception") or hidden_mark not in message:
        return result
    called = message.split("labutils' reference ", 1)[-1].split(" ", 1)[0]
    return {"meta": result.get("meta", {}), "error": "reference", "how": "call", "where": [called], "message": called}


def probe_definition(probes, name, obj, inputs, seconds_each, skipped_names, hidden_mark):
    """Probe the notebook's `obj` for exercise `name` under the time limit; say which cell set a name it lacked."""
    with probes.time_limit(seconds_each):
        result = probes.run_probe(name, obj, inputs)
    result = _hidden_reference(result, hidden_mark)
    if result.get("error") == "exception" and result.get("type") == "NameError":
        missing = str(result.get("message", "")).split("'")
        if len(missing) >= 2 and missing[1] in skipped_names:
            result["computed_in"] = skipped_names[missing[1]]
    return result


def main(probes, cells, inputs, settings, send):
    """The probe process: re-run the notebook's definitions in a fresh namespace, probe each exercise, send().

    `probes` is labutils/exercises/probes.py loaded as a module; settings: seconds_each, hidden_mark and
    the reference modules, imported first (their stubs, as a notebook would have them in sys.modules)."""
    import builtins
    import importlib

    seconds_each, hidden_mark = float(settings["seconds_each"]), settings["hidden_mark"]
    for module in settings["modules"]:
        importlib.import_module(module)
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    results = {"exercises": {}, "definition_errors": [], "skipped_names": {}}
    for cell in cells:
        rerun_definitions(probes, cell, namespace, seconds_each, results)
    send(results, False)
    for name, exercise_inputs in inputs.items():
        results["exercises"][name] = _missing(name, namespace)
        if results["exercises"][name]:
            continue
        results["exercises"][name] = {"error": "crashed", "stage": "starting"}  # stays if the process dies
        send(results, False)
        results["exercises"][name] = probe_definition(probes, name, namespace[name], exercise_inputs, seconds_each,
                                                      results["skipped_names"], hidden_mark)
        send(results, False)
    send(results, True)
