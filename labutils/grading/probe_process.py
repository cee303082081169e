"""The grader's probe process: re-run a notebook's definitions in a fresh namespace, probe each exercise.

LOADED AS TEXT, like labutils/exercises/probes.py: the grading worker (worker.py) starts a fresh
process whose bootstrap reads both files from its stdin into private modules (never in sys.modules)
before any student code runs, binds the result channel and calls `main`. Standard library only at
module level; torch and the probes come in as `probes`. While an exercise is probed, a profile hook
(ReferenceTrap) notices labutils' reference code running.
"""
import ast
import sys

ALLOWED_CALLS = {"torch.device", "lab_vocab", "dict", "list", "tuple", "set", "int", "float", "str", "range", "len",
                 "np.array", "np.arange", "frozenset"}
PROBE_CODES = set()  # ids of the loaded files' own code objects (filled by main, before any student code)


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


def _fingerprint(code):
    """What two copies of the same function's code share: bytecode, names, variables, constants."""
    consts = tuple(_fingerprint(c) if hasattr(c, "co_code") else repr(c) for c in code.co_consts)
    return code.co_code, code.co_names, code.co_varnames, consts


def _codes_of(obj, seen=None):
    """The code objects of a function, or of a class's functions, nested ones included."""
    seen = set() if seen is None else seen
    found = []
    functions = []
    if isinstance(obj, type):
        for klass in obj.__mro__:
            if klass.__module__ in ("builtins",) or klass.__module__.startswith("torch"):
                continue
            for value in vars(klass).values():
                value = getattr(value, "__func__", value)
                if isinstance(value, property):
                    functions += [f for f in (value.fget, value.fset, value.fdel) if f]
                elif hasattr(value, "__code__"):
                    functions.append(value)
    elif hasattr(obj, "__code__"):
        functions.append(obj)
    stack = [f.__code__ for f in functions if hasattr(f, "__code__")]
    while stack:
        code = stack.pop()
        if id(code) in seen:
            continue
        seen.add(id(code))
        found.append(code)
        stack.extend(c for c in code.co_consts if hasattr(c, "co_code"))
    return found


class ReferenceTrap:
    """Notices labutils' reference code running (however it was fetched) while one exercise is probed.

    A sys.setprofile hook: any code object of the reference's module, or one with the same bytecode
    (a types.FunctionType copy, exec(inspect.getsource(...))), that is not the student's own definition."""

    def __init__(self, module_name):
        import importlib

        module = importlib.import_module(module_name)
        self.file = module.__file__
        codes = []
        for value in vars(module).values():
            if getattr(value, "__module__", None) == module_name:
                codes += [c for c in _codes_of(value) if c.co_filename == self.file]  # not decorators' wrappers
        self.codes = codes  # kept alive, so their ids stay theirs
        self.ids = {id(c) for c in codes}
        self.prints = {_fingerprint(c) for c in codes if len(c.co_code) >= 40}
        self.hits = []

    def hook_for(self, own):
        """The profile hook for one exercise; `own` are the code objects of the student's definition."""
        own_ids = {id(c) for c in own}
        cache = {}
        hits = self.hits

        def hook(frame, event, arg):
            if event != "call":
                return
            code = frame.f_code
            known = cache.get(id(code))
            if known is None or known[0] is not code:
                bad = id(code) in self.ids or code.co_filename == self.file or (
                    id(code) not in own_ids and id(code) not in PROBE_CODES and _fingerprint(code) in self.prints)
                known = cache[id(code)] = (code, bad)
            if known[1]:
                hits.append(code.co_name)
        return hook


def probe_with_trap(probes, name, obj, inputs, module_name, seconds_each):
    """probes.run_probe under the reference trap and the time limit: the result, or a "reference" error."""
    import threading

    trap = ReferenceTrap(module_name)
    hook = trap.hook_for(_codes_of(obj))
    threading.setprofile(hook)
    sys.setprofile(hook)
    try:
        with probes.time_limit(seconds_each):
            result = probes.run_probe(name, obj, inputs)
    finally:
        tampered = sys.getprofile() is not hook
        sys.setprofile(None)
        threading.setprofile(None)
    if trap.hits:
        return {"meta": result.get("meta", {}), "error": "reference", "how": "call",
                "where": sorted(set(trap.hits))[:5], "message": ", ".join(sorted(set(trap.hits))[:5])}
    if tampered:
        return {"meta": result.get("meta", {}), "error": "tampered"}
    return result


def _own_codes(namespace, module_name):
    """The code objects of the functions and classes a loaded file defines."""
    return [code for value in namespace.values() if getattr(value, "__module__", None) == module_name
            and (isinstance(value, type) or hasattr(value, "__code__")) for code in _codes_of(value)]


def _import_before_student_code(probes, references):
    """Import the reference modules and run one optimizer step (it imports much of torch) before the trap is set."""
    import importlib

    for module_name in set(references.values()):
        importlib.import_module(module_name)
    torch = probes.torch
    warm = probes.TinyCharModel(5, 0)
    optimizer = torch.optim.SGD(warm.parameters(), lr=0.1)
    x = torch.zeros(1, 2, dtype=torch.long)
    probes.reference_compute_loss(x, warm(x)).backward()
    optimizer.step()
    optimizer.zero_grad()


def _note_skipped_names(full, kept, cell_index, skipped_names):
    """Record the names set by top-level code of a cell that the probe process does not re-run."""
    kept_ids = {id(n) for n in kept.body}
    for node in full.body:
        if id(node) not in kept_ids and isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.With)):
            for n in ast.walk(node):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                    skipped_names.setdefault(n.id, cell_index)


def rerun_definitions(probes, cell, namespace, transform, seconds_each, results):
    """Run one cell's definitions in `namespace`, each statement under the time limit; note what failed."""
    try:
        full = ast.parse(transform(cell["source"]))
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


def probe_definition(probes, name, obj, inputs, module_name, seconds_each, skipped_names):
    """Probe the notebook's `obj` for exercise `name` under the trap; say which cell set a name it lacked."""
    result = probe_with_trap(probes, name, obj, inputs, module_name, seconds_each)
    if result.get("error") == "exception" and result.get("type") == "NameError":
        missing = str(result.get("message", "")).split("'")
        if len(missing) >= 2 and missing[1] in skipped_names:
            result["computed_in"] = skipped_names[missing[1]]
    return result


def main(probes, cells, inputs, references, seconds_each, send):
    """The probe process: re-run the notebook's definitions in a fresh namespace, probe each exercise, send().

    `probes` is labutils/exercises/probes.py loaded as a module, `references` {exercise: reference module}."""
    import builtins

    from IPython.core.inputtransformer2 import TransformerManager

    PROBE_CODES.update(id(c) for c in _own_codes(vars(probes), probes.__name__) + _own_codes(globals(), __name__))
    _import_before_student_code(probes, references)
    transform = TransformerManager().transform_cell
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    results = {"exercises": {}, "definition_errors": [], "skipped_names": {}}
    for cell in cells:
        rerun_definitions(probes, cell, namespace, transform, seconds_each, results)
    send(results, False)
    for name, exercise_inputs in inputs.items():
        results["exercises"][name] = _missing(name, namespace)
        if results["exercises"][name]:
            continue
        results["exercises"][name] = {"error": "crashed", "stage": "starting"}  # stays if the process dies
        send(results, False)
        results["exercises"][name] = probe_definition(probes, name, namespace[name], exercise_inputs,
                                                      references[name], seconds_each, results["skipped_names"])
        send(results, False)
    send(results, True)
