"""The grader's probe process: rebuild what a notebook's exercises need in a fresh namespace, probe each exercise.

LOADED AS TEXT, like labutils/exercises/probes.py: the probe phase (phases.py) starts a fresh process
in a sandbox of its own whose bootstrap reads both files from its stdin into private modules (never in
sys.modules) before any student code runs, binds the result channel and calls `main`. Standard library
only at module level; torch and the probes come in as `probes`. The labutils this process can import
is the student view (view.py): the exercises' references are stubs, and a probe that ran into one
counts as calling the reference.

What it re-runs (`plan`): each top-level import, def, class and assignment to plain names (of
any value: `cross_entropy = nn.CrossEntropyLoss()`, `rng = np.random.default_rng(0)`, `char2idx = {...}`)
that binds a name the exercises' code reads, directly or through other such statements (less the names a
probe sets itself, probes.PROVIDED): each under the per-exercise time limit, all within the rebuild's own
time (`rebuild`). Never an assignment to an attribute or an item (`torch.save = ...`, `RUBRIC["x"] = ...`),
an expression, a loop or another block, nor a line no exercise needs (`history = train(...)`). A probe
that fails on a global the process could not rebuild says which, in which cell and why ("unrebuilt").
The grader's worker imports `parse_cell` and `bound_names` as a module.
"""
import ast
import collections
import re
import symtable
import time

# A line IPython reads as a magic or a shell command: `%time ...`, `!ls`, `files = !ls`, `x = %env HOME`
MAGIC_LINE = re.compile(r"^(\s*)(?:[%!]|[\w.,*\s]+=\s*[%!])")
# One top-level statement of the notebook: its cell, its syntax tree, the names it binds (None: never re-run)
# and the global names it reads (when it runs, or when what it defines is called)
Statement = collections.namedtuple("Statement", "cell node binds reads")


def _names_only(target):
    """True when an assignment target is a name, or a tuple/list of names (starred ones too)."""
    if isinstance(target, ast.Starred):
        target = target.value
    if isinstance(target, ast.Name):
        return True
    return isinstance(target, (ast.Tuple, ast.List)) and all(_names_only(t) for t in target.elts)


def bound_names(node):
    """The names a top-level statement binds when the probe process may re-run it ("*" for a star import);
    None for one it never re-runs: an expression, a loop or other block, an assignment to an attribute or item."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return ["*" if alias.name == "*" else alias.asname or alias.name.split(".")[0] for alias in node.names]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
        targets = [node.target]
    else:
        return None
    if not all(_names_only(t) for t in targets):
        return None
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def read_names(node):
    """The global names a statement reads when it runs, or when a function or class it defines is used."""
    try:
        table = symtable.symtable(ast.unparse(node), "<statement>", "exec")
    except (SyntaxError, ValueError, RecursionError):
        return frozenset()
    names = {symbol.get_name() for symbol in table.get_symbols() if symbol.is_referenced()}
    scopes = list(table.get_children())
    while scopes:
        scope = scopes.pop()
        names.update(s.get_name() for s in scope.get_symbols() if s.is_global() and s.is_referenced())
        scopes.extend(scope.get_children())
    return frozenset(names)


def stored_names(node):
    """Every name a statement the probe process does not re-run may set (for the message when one is missing)."""
    names = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            names.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, ast.alias):
            names.add(n.asname or n.name.split(".")[0])
    return names


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


def read_cells(cells, results):
    """The notebook's top-level statements in order; names set only where the process never re-runs them are
    noted in results["unrebuilt"] (why: "not_rerun"), cells that do not parse in results["definition_errors"]."""
    statements = []
    for cell in cells:
        try:
            tree = parse_cell(cell["source"])
        except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
            results["definition_errors"].append({"cell": cell["index"], "error": type(error).__name__})
            continue
        for node in tree.body:
            binds = bound_names(node)
            if binds is None:
                for name in stored_names(node):
                    results["unrebuilt"].setdefault(name, {"cell": cell["index"], "why": "not_rerun"})
            statements.append(Statement(cell["index"], node, binds, read_names(node) if binds else frozenset()))
    return statements


def plan(statements, exercises, provided):
    """The statements to re-run, in notebook order: each import, def, class or assignment binding a name that an
    exercise's code needs, directly or through another such statement (the names its probe sets left out), and
    star imports (what they bind is unknown)."""
    binders = {}
    for statement in statements:
        for name in statement.binds or ():
            binders.setdefault(name, []).append(statement)
    chosen = set()
    for exercise in exercises:
        seen, wanted = set(), [exercise]
        while wanted:
            name = wanted.pop()
            if name in seen or name in provided.get(exercise, ()):
                continue
            seen.add(name)
            for statement in binders.get(name, ()):
                chosen.add(id(statement))
                wanted.extend(statement.reads)
    return [s for s in statements if s.binds is not None and (id(s) in chosen or "*" in s.binds)]


def _unrebuilt(results, statement, why, **details):
    """Note that the names `statement` binds could not be rebuilt, and why."""
    for name in statement.binds:
        results["unrebuilt"][name] = {"cell": statement.cell, "why": why, **details}


def rebuild(probes, statements, namespace, settings, results):
    """Run `statements` in `namespace`, each under the per-exercise time limit, all before the rebuild's deadline;
    note each one that failed or ran out of time (results["unrebuilt"], results["definition_errors"])."""
    seconds_each = float(settings["seconds_each"])
    deadline = time.monotonic() + float(settings["rebuild_seconds"])
    for statement in statements:
        limit = min(seconds_each, deadline - time.monotonic())
        if limit < 0.1:
            _unrebuilt(results, statement, "slow", seconds=round(float(settings["rebuild_seconds"]), 1))
            continue
        try:
            with probes.time_limit(limit):
                exec(compile(ast.Module(body=[statement.node], type_ignores=[]), f"<cell {statement.cell + 1}>",
                             "exec"), namespace)
        except probes.ProbeTimeout:
            _unrebuilt(results, statement, "slow", seconds=round(limit, 1))
            results["definition_errors"].append({"cell": statement.cell, "error": "timeout"})
        except (Exception, SystemExit) as error:  # the kernel run reports these already
            _unrebuilt(results, statement, "failed", type=type(error).__name__, message=str(error)[:300])
            results["definition_errors"].append({"cell": statement.cell, "error": type(error).__name__})


def _missing(name, namespace):
    """The "missing" result (with where the name came from) when the notebook did not define `name`, else None."""
    if name not in namespace:
        return {"error": "missing"}
    obj = namespace[name]
    if getattr(obj, "__module__", None) != "__main__":
        return {"error": "missing", "meta": {"module": str(getattr(obj, "__module__", ""))}}
    return None


def _records(value):
    """Every dict in a probe's result: the result itself and each one in the data it gathered."""
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            yield item
            todo.extend(item.values())
        elif isinstance(item, (list, tuple)):
            todo.extend(item)


def _hidden_reference(result, hidden_mark):
    """A probe result that ran into a stub of the student view (the probe's own error, or one it recorded while
    gathering data) counts as calling labutils' reference."""
    for record in _records(result):
        message = str(record.get("message", ""))
        if hidden_mark in message and (record.get("error") in ("not_implemented", "exception")
                                       or record.get("kind") == "error"):
            called = message.split("labutils' reference ", 1)[-1].split(" ", 1)[0]
            return {"meta": result.get("meta", {}), "error": "reference", "how": "call", "where": [called],
                    "message": called}
    return result


def _name_errors(result):
    """The names of the NameErrors a probe's result records (its own error, or one in the data it gathered)."""
    return [str(r.get("message", "")).partition("'")[2].partition("'")[0] for r in _records(result)
            if r.get("type") == "NameError"]


def probe_definition(probes, name, obj, inputs, seconds_each, unrebuilt, hidden_mark):
    """Probe the notebook's `obj` for exercise `name` under the time limit; a NameError for a global the
    process could not rebuild becomes an "unrebuilt" result that says which global, where and why."""
    with probes.time_limit(seconds_each):
        result = probes.run_probe(name, obj, inputs)
    result = _hidden_reference(result, hidden_mark)
    for missing in _name_errors(result):
        if missing in unrebuilt:
            return {"meta": result.get("meta", {}), "error": "unrebuilt", "missing": missing, **unrebuilt[missing]}
    return result


def main(probes, cells, inputs, settings, send):
    """The probe process: rebuild what the exercises need in a fresh namespace, probe each exercise, send().

    `probes` is labutils/exercises/probes.py loaded as a module; settings: seconds_each, rebuild_seconds,
    hidden_mark and the reference modules, imported first (their stubs, as a notebook would have them)."""
    import builtins
    import importlib

    seconds_each, hidden_mark = float(settings["seconds_each"]), settings["hidden_mark"]
    for module in settings["modules"]:
        importlib.import_module(module)
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    results = {"exercises": {}, "definition_errors": [], "unrebuilt": {}}
    statements = read_cells(cells, results)
    rebuild(probes, plan(statements, list(inputs), probes.PROVIDED), namespace, settings, results)
    send(results, False)
    for name, exercise_inputs in inputs.items():
        results["exercises"][name] = _missing(name, namespace)
        if results["exercises"][name]:
            continue
        results["exercises"][name] = {"error": "crashed", "stage": "starting"}  # stays if the process dies
        send(results, False)
        probes.warm_up(name)
        results["exercises"][name] = probe_definition(probes, name, namespace[name], exercise_inputs, seconds_each,
                                                      results["unrebuilt"], hidden_mark)
        send(results, False)
    send(results, True)
