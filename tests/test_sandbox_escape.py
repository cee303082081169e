"""Ways out of the sandbox, tried as a determined student would: root code through a planted module,
capabilities and remounts, the kernel phase leaving things for the probe phase, labutils' reference
reached behind the grader's back, memory no per-process limit counts, and input that is slow or deep
to parse. Each class is one small notebook; they are graded together in one run per timeout."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_grading import FULL, HEADER, solution_source, write_notebook

import labutils
from labutils.exercises.inputs import make_inputs
from labutils.exercises.judges import judge
from labutils.grading import cgroups, cli, sandbox
from labutils.grading.processes import communicate_bounded
from labutils.grading.view import HIDDEN_MARK, build_view

ISOLATION = sandbox.detect()
LABUTILS = str(Path(labutils.__file__).resolve().parent)
needs_bwrap_root = pytest.mark.skipif(ISOLATION.mode != "bwrap" or not ISOLATION.root,
                                      reason="needs bubblewrap as root (a read-only view, a uid per phase)")
needs_bwrap = pytest.mark.skipif(ISOLATION.mode != "bwrap",
                                 reason="needs bubblewrap: without it labutils' reference is readable by path")
needs_cgroup = pytest.mark.skipif(ISOLATION.cgroup is None, reason=f"no cgroup here: {ISOLATION.cgroup_gap}")

# Planted under every name a grader process might import, in every folder the kernel can reach; it runs
# only in a process of another uid than the kernel's (root, on the old grader): remount, write, exit.
PLANTED = f"""import os
if os.getuid() != {{uid}}:
    os.system("mount -o remount,rw,bind {LABUTILS} 2>/dev/null")
    try:
        open("{LABUTILS}/PLANTED-RAN", "w").write(str(os.getuid()))
    finally:
        os._exit(7)
"""
PLANTER = f"""import os, pathlib
names = ["resource", "json", "hmac", "io", "types", "ast", "re", "runpy", "codecs", "selectors", "signal",
         "sitecustomize", "usercustomize", "tokenize", "labutils_probe"]
places = {{os.getcwd(), os.path.expanduser("~"), os.path.dirname(os.getcwd()), "/tmp", "/tmp/probe", "/tmp/grader",
          "/dev/shm", "/var/tmp"}} | {{f"/tmp/kernel-{{i}}" for i in range(4)}}
planted = []
for place in places:
    try:
        os.makedirs(place, exist_ok=True)
        os.chmod(place, 0o777)
    except OSError:
        pass
    for name in names:
        try:
            pathlib.Path(place, name + ".py").write_text({PLANTED!r}.format(uid=os.getuid()))
            pathlib.Path(place, "labutils-marker").write_text("left by the kernel phase")
            planted.append(place)
        except OSError:
            pass
print(sorted(set(planted)))
"""
# The probe phase re-runs this decorator: it fails (and get_batch goes missing) if the kernel phase's files are there.
# It looks two folders deep, where the planter writes: deeper lies the lab's own checkout when it is
# cloned under /tmp (a fresh clone in CI), whose virtual environment has a resource.py of its own.
LOOKOUT = """def _lookout(function):
    import os
    for top in ("/tmp", "/dev/shm", "/var/tmp", os.path.expanduser("~")):
        for folder, folders, files in os.walk(top):
            if "labutils-marker" in files or "resource.py" in files:
                raise RuntimeError("the kernel phase's files are visible: " + folder)
            if folder.count(os.sep) - top.rstrip(os.sep).count(os.sep) >= 1:
                folders.clear()
    return function
"""
WALLS = f"""import os, pathlib, subprocess, sys
found = []
allowed = {{0, 5, 6, 7}}  # chown, kill, setgid, setuid: what the worker keeps
for entry in pathlib.Path("/proc").iterdir():
    if not entry.name.isdigit():
        continue
    try:
        fields = dict(line.split(":", 1) for line in (entry / "status").read_text().splitlines() if ":" in line)
    except OSError:
        continue
    for key in ("CapEff", "CapPrm"):
        extra = [b for b in range(64) if int(fields[key].strip(), 16) >> b & 1 and b not in allowed]
        if extra:
            found.append(f"{{fields['Name'].strip()}} {{key}} {{extra}}")
    if int(entry.name) != os.getpid():
        for what in ("environ", "mem"):
            try:
                open(entry / what, "rb").read(16)
                found.append(f"read /proc/{{entry.name}}/{{what}}")
            except OSError:
                pass
mine = open("/proc/self/status").read()
if "NoNewPrivs:\\t1" not in mine:
    found.append("new privileges allowed")
attempts = {{"remount": ["mount", "-o", "remount,rw,bind", "{LABUTILS}"],
            "user namespace": ["unshare", "-rm", "sh", "-c", "mount -o remount,rw,bind {LABUTILS} && touch {LABUTILS}/WALLS-BROKEN"],
            "write": ["touch", "{LABUTILS}/WALLS-BROKEN"], "setuid": [sys.executable, "-c", "import os; os.setuid(0)"]}}
for name, argv in attempts.items():
    try:
        if subprocess.run(argv, capture_output=True, timeout=20).returncode == 0:
            found.append(name)
    except OSError:
        pass
for place in ("/tmp/grader", os.path.dirname(os.getcwd()), "/", "{LABUTILS}", sys.prefix):
    if os.access(place, os.W_OK):
        found.append("writable " + place)
if found:
    raise RuntimeError("escape: " + "; ".join(found))
"""
TRICKS = f"""import gc, glob, importlib, importlib.util, marshal, os, re, sys, types
REAL = {LABUTILS!r}

def _quiet(function, *args, **kwargs):
    import threading
    hook = sys.getprofile()
    sys.setprofile(None)
    threading.setprofile(None)
    try:
        return function(*args, **kwargs)
    finally:
        sys.setprofile(hook)
        threading.setprofile(hook)

def _module(name):
    return importlib.import_module("lab" + "utils." + name)

def _folders():
    found = [os.path.dirname(_module("text").__file__), REAL]
    for entry in sys.path:
        found.append(os.path.join(entry, "labutils"))
        for path in glob.glob(os.path.join(entry, "*.pth")) + glob.glob(os.path.join(entry, "__editable__*.py")):
            found += [m if m.endswith("labutils") else os.path.join(m, "labutils")
                      for m in re.findall(r"'(/[^']+)'", open(path).read())]
    return [f for f in dict.fromkeys(found) if os.path.isdir(f)]

def _each(kind, module, name):
    for number, folder in enumerate(_folders()):
        path = os.path.join(folder, module + ".py")
        if kind == "source" and os.path.exists(path):
            namespace = {{"__name__": "copy"}}
            exec(compile(open(path).read(), path, "exec"), namespace)
            yield namespace[name]
        elif kind == "spec" and os.path.exists(path):
            spec = importlib.util.spec_from_file_location(f"copy{{number}}", path)
            copy = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(copy)
            yield getattr(copy, name)
        elif kind == "pyc":
            for cached in glob.glob(os.path.join(folder, "__pycache__", module + ".*.pyc")):
                namespace = {{"__name__": "copy"}}
                exec(marshal.loads(open(cached, "rb").read()[16:]), namespace)
                yield namespace[name]

def _first_working(candidates, call):
    error = FileNotFoundError("no copy of the reference found")
    for candidate in candidates:
        try:
            return call(candidate)
        except NotImplementedError as raised:
            error = raised
    raise error

def vectorize_string(string):
    return _quiet(getattr(_module("te" + "xt"), "vectorize_" + "string"), string, char2idx)

def get_batch(vectorized_songs, seq_length, batch_size):
    return _first_working(_each("source", "batches", "get_batch"), lambda f: f(vectorized_songs, seq_length, batch_size))

class LSTMModel(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_size):
        super().__init__()
        self.inner = _first_working(_each("spec", "model", "LSTMModel"), lambda c: c(vocab_size, embedding_dim, hidden_size))
    def init_hidden(self, batch_size, device):
        return self.inner.init_hidden(batch_size, device)
    def forward(self, x, state=None, return_state=False):
        return self.inner(x, state, return_state)

def compute_loss(labels, logits):
    return _first_working(_each("pyc", "training", "compute_loss"), lambda f: f(labels, logits))

def train_step(model, optimizer, x_batch, y_batch):
    reference = getattr(_module("train" + "ing"), "train_" + "step")
    copy = types.FunctionType(reference.__code__, reference.__globals__, "mine", reference.__defaults__)
    return _quiet(copy, model, optimizer, x_batch, y_batch)

def generate_text(model, start_string, generation_length=1000):
    found = [o for o in gc.get_objects() if type(o) is types.FunctionType and o.__name__ == "generate_" + "text"
             and o.__module__ == "lab" + "utils.sampling"]
    return _quiet(found[0], model, start_string, generation_length, char2idx=char2idx, vocab=vocab)
"""
COMM_FLOOD = """from ipykernel.comm import Comm
blob = bytes(48 * 2**20)
comm = Comm(target_name="jupyter.widget", data={"state": {"_model_module": "x", "_model_name": "y"}, "buffer_paths": []})
for i in range(64):  # 3 GiB of widget state, each buffer under its own path
    comm.send({"method": "update", "state": {}, "buffer_paths": [[f"b{i}"]]}, buffers=[blob])
"""
MEMFD = """import os
chunk, held = bytes(64 * 2**20), []
for i in range(48):  # 3 GiB of memory no process maps, in files under --max-file-size each
    if i % 8 == 0:
        held.append(os.memfd_create(f"held{i}"))
    os.write(held[-1], chunk)
"""


@pytest.fixture(scope="module")
def escapes(tmp_path_factory):
    """Grade the escape attempts in one run (2 jobs, 2 GiB); return grades by student."""
    klass = tmp_path_factory.mktemp("escapes") / "class"
    write_notebook(klass / "solution" / "lab.ipynb", HEADER, solution_source())
    write_notebook(klass / "planter" / "lab.ipynb", HEADER, PLANTER, LOOKOUT, solution_source().replace(
        "def get_batch(", "@_lookout\ndef get_batch("))
    write_notebook(klass / "walls" / "lab.ipynb", HEADER, WALLS, solution_source())
    write_notebook(klass / "tricks" / "lab.ipynb", HEADER, TRICKS)
    write_notebook(klass / "comm_flood" / "lab.ipynb", HEADER, COMM_FLOOD, solution_source())
    write_notebook(klass / "memfd" / "lab.ipynb", HEADER, MEMFD, solution_source())
    out = klass.parent / "grades"
    assert cli.main([str(klass), "--out", str(out), "--jobs", "2", "--cell-timeout", "20", "--timeout", "60",
                     "--memory", "2G"]) == 0
    return {g["student"]: g for g in json.loads((out / "grades.json").read_text())["students"]}


def _cleanup_and_list(*names):
    """Files the attempts left in the real labutils folder (removed, so a failed run leaves no trace)."""
    found = [name for name in names if Path(LABUTILS, name).exists()]
    for name in found:
        Path(LABUTILS, name).unlink()
    return found


@needs_bwrap_root
def test_planted_modules_never_run_in_the_grader_and_the_probe_sees_nothing_of_the_kernel(escapes):
    assert _cleanup_and_list("PLANTED-RAN") == []
    planter = escapes["planter"]
    assert planter["total"] == FULL, {k: v["message"] for k, v in planter["exercises"].items()}
    assert escapes["solution"]["total"] == FULL


@needs_bwrap_root
def test_no_capability_remount_or_writable_folder_is_within_reach(escapes):
    assert _cleanup_and_list("WALLS-BROKEN") == []
    walls = escapes["walls"]
    errors = [e["message"] for r in walls["reports"] for e in r["errors"]]
    assert not any(m.startswith("escape") for m in errors), errors
    assert walls["total"] == FULL


def _tricks_pass_with_the_real_labutils(tmp_path):
    """Outside the sandbox every trick reaches the reference and passes: only the student view stops them."""
    import py_compile

    import numpy as np
    import torch

    from labutils.corpus import lab_vocab
    from labutils.exercises import probes

    folder = tmp_path / "labutils"  # a copy with a __pycache__, as a checkout has
    folder.mkdir()
    py_compile.compile(str(Path(LABUTILS, "training.py")), cfile=str(folder / "__pycache__" / "training.cpython-3.pyc"))
    namespace = {"np": np, "torch": torch, "nn": torch.nn, "__name__": "__main__"}
    namespace["vocab"], namespace["char2idx"], _ = lab_vocab()
    exec(TRICKS.replace(repr(LABUTILS), repr(str(folder))), namespace)
    rng = np.random.default_rng(0)
    for name in ("vectorize_string", "get_batch", "LSTMModel", "compute_loss", "train_step", "generate_text"):
        inputs = make_inputs(name, rng)
        assert judge(name, inputs, {"data": probes.PROBES[name](namespace[name], inputs, {})}).passed, name


@needs_bwrap
def test_reference_reached_by_name_path_spec_pyc_or_gc_earns_nothing(escapes, tmp_path):
    _tricks_pass_with_the_real_labutils(tmp_path)
    tricks = escapes["tricks"]
    assert tricks["total"] == 0, {k: v["message"] for k, v in tricks["exercises"].items()}
    for name in ("vectorize_string", "train_step", "generate_text", "get_batch", "LSTMModel"):
        message = tricks["exercises"][name]["message"]
        assert "calls labutils' reference" in message, (name, message)


@needs_cgroup
def test_memory_no_limit_counted_ends_as_the_notebooks_memory_limit(escapes):
    for student in ("comm_flood", "memfd"):
        grade = escapes[student]
        assert "memory limit of 2 GiB reached in cell 3" in grade["status"], grade["status"]
        assert grade["total"] == FULL, grade["exercises"]  # graded without the cell
    assert escapes["comm_flood"]["reports"][0]["worker_peak_bytes"] < 2**30  # the worker never held the flood


def test_the_grader_reads_at_most_what_it_allows():
    process = subprocess.Popen([sys.executable, "-c", "import sys\nwhile True: sys.stdout.buffer.write(bytes(2**20))"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finished = communicate_bounded(process, b"", timeout=30, max_out=4 * 2**20)
    assert finished.overflow and len(finished.out) == 4 * 2**20 and finished.returncode is not None


@pytest.fixture(scope="module")
def hard_to_parse(tmp_path_factory):
    """A 1.5 MB notebook of magic lines, 501 `x = !true` lines, a 2 kB notebook nested 900 deep: --timeout 30."""
    klass = tmp_path_factory.mktemp("parse") / "class"
    magic = "\n".join(["%time x = 1"] * 330)
    write_notebook(klass / "magics" / "lab.ipynb", HEADER, solution_source(), *[magic] * 300)
    write_notebook(klass / "bangs" / "lab.ipynb", HEADER, "\n".join(["x = !true"] * 501), solution_source())
    deep = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": [], "execution_count": None}]}
    text = json.dumps(deep).replace('"metadata": {}, "outputs"', '"metadata": {"x": ' + "[" * 900 + "]" * 900
                                    + '}, "outputs"')
    (klass / "deep").mkdir(parents=True)
    (klass / "deep" / "lab.ipynb").write_text(text)
    out = klass.parent / "grades"
    started = time.monotonic()
    assert cli.main([str(klass), "--out", str(out), "--jobs", "2", "--cell-timeout", "20", "--timeout", "30"]) == 0
    assert os.path.getsize(klass / "magics" / "lab.ipynb") > 1.4e6 and len(text) < 2500
    return {g["student"]: g for g in json.loads((out / "grades.json").read_text())["students"]}, time.monotonic() - started


def test_slow_or_deep_input_is_graded_within_the_timeout_never_a_grader_error(hard_to_parse):
    grades, _ = hard_to_parse
    for student in ("magics", "bangs", "deep"):
        assert not grades[student]["status"].startswith("grader error"), grades[student]["status"]
        assert grades[student]["reports"][0]["seconds"] < 30 + 5, grades[student]["reports"]
    assert grades["magics"]["total"] == grades["bangs"]["total"] == FULL, grades["magics"]["exercises"]
    assert grades["deep"]["total"] == 0


def test_notebook_text_is_read_in_linear_time_with_a_reason_for_what_is_no_notebook():
    from labutils.grading.analysis import read_notebook
    from labutils.grading.probe_process import parse_cell

    assert read_notebook(b"[" * 100_000 + b"]" * 100_000)[1].startswith("not a readable notebook (RecursionError")
    assert read_notebook(b"this is not JSON {")[1] == "not a readable notebook (JSONDecodeError at line 1, column 1)"
    nb, _ = read_notebook(json.dumps({"cells": [{"cell_type": "code", "source": ["x = 1\n", "y = 2"]}],
                                      "metadata": {"labutils": {"language": "zh"}}}).encode())
    assert nb.cells[0].source == "x = 1\ny = 2" and nb.metadata["labutils"]["language"] == "zh"
    started = time.monotonic()
    tree = parse_cell("\n".join(["x = !true", "%time y = 1", "def f():", "    z = !ls \\", "      -l"] * 20_000))
    assert time.monotonic() - started < 10 and sum(1 for n in tree.body if n.__class__.__name__ == "FunctionDef") == 20_000
    assert parse_cell("%%bash\necho hi").body == [] and len(parse_cell('s = """\n!keep\n"""').body) == 1


def test_student_view_hides_each_reference_and_keeps_everything_else_importable(tmp_path):
    view = build_view(Path(LABUTILS), tmp_path)
    assert not list(view.rglob("__pycache__")) and not list(view.rglob("*.pyc"))
    code = ("import importlib, labutils, labutils.checks, labutils.jobs, labutils.schedule, labutils.exercises.judges\n"
            "from labutils.batches import get_batch\n"
            "try:\n    get_batch([1, 2, 3], 1, 1)\nexcept NotImplementedError as error:\n    print(error)\n"
            "print(labutils.__file__)")
    shown = subprocess.run(sandbox.python_argv(code, str(tmp_path)), capture_output=True, text=True, timeout=120)
    assert HIDDEN_MARK in shown.stdout and str(view) in shown.stdout, shown.stderr[-2000:]
    source = (view / "training.py").read_text()
    assert "cross_entropy(batched_logits" not in source and "def nats_to_bits" in source
    assert "def reference_compute_loss(*args, **kwargs)" in (view / "exercises" / "probes.py").read_text()


def _fake_v2(root, subtree="", procs="4242"):
    """A fake /proc/self and cgroup2 mount under `root`, the grader (pid 4242) in /grading; find_tree run on it."""
    (root / "proc" / "self").mkdir(parents=True)
    (root / "proc" / "self" / "mountinfo").write_text(
        "30 1 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n")
    (root / "proc" / "self" / "cgroup").write_text("0::/grading\n")
    folder = root / "sys" / "fs" / "cgroup" / "grading"
    folder.mkdir(parents=True)
    (folder / "cgroup.controllers").write_text("cpu io memory pids\n")
    (folder / "cgroup.type").write_text("domain\n")  # not the root cgroup
    (folder / "cgroup.subtree_control").write_text(subtree)
    (folder / "cgroup.procs").write_text(procs + "\n")
    cgroups.find_tree(root, pid=4242)
    return folder


def test_cgroup_v2_tree_is_found_enabled_and_limited(tmp_path):
    folder = _fake_v2(tmp_path / "alone")
    tree, reason = cgroups.find_tree(tmp_path / "alone", pid=4242)
    assert tree is not None and tree.version == 2 and reason == ""
    assert (folder / "cgroup.subtree_control").read_text() == "+memory +pids"
    notebook = cgroups.NotebookCgroup(tree, 2 * 2**30, 100)
    made = notebook.folders["memory"]
    assert made.parent == folder and (made / "memory.max").read_text() == str(2 * 2**30)
    assert (made / "pids.max").read_text() == str(100 + cgroups.PID_SLACK)
    assert notebook.procs_files() == [str(made / "cgroup.procs")]
    (made / "memory.events").write_text("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n")
    (made / "pids.events").write_text("max 3\n")
    assert notebook.events() == {"oom_kill": 1, "pids_max": 3}


def test_cgroup_v2_grader_alone_moves_into_a_leaf_shared_is_refused_enabled_is_used(tmp_path):
    folder = _fake_v2(tmp_path / "alone")
    assert (folder / "labutils-grader-4242" / "cgroup.procs").read_text() == "4242"
    folder = _fake_v2(tmp_path / "shared", procs="1\n4242")
    tree, reason = cgroups.find_tree(tmp_path / "shared", pid=4242)
    assert tree is None and "holds other processes" in reason and "Delegate=yes" in reason
    assert (folder / "cgroup.subtree_control").read_text() == ""
    folder = _fake_v2(tmp_path / "enabled", subtree="memory pids", procs="")
    tree, _ = cgroups.find_tree(tmp_path / "enabled", pid=4242)
    assert tree.parents == {"memory": folder, "pids": folder} and not list(folder.glob("labutils-grader-*"))


@needs_cgroup
def test_a_real_notebook_cgroup_counts_memory_no_process_maps():
    notebook = cgroups.NotebookCgroup(ISOLATION.cgroup, 256 * 2**20, 50)
    try:
        grow = "import os\nfd = os.memfd_create('x')\nfor _ in range(64):\n    os.write(fd, bytes(2**23))"
        done = subprocess.run(notebook.join_prefix() + [sys.executable, "-c", grow], capture_output=True, timeout=60)
        assert done.returncode == -9 and notebook.events()["oom_kill"] >= 1
    finally:
        notebook.remove()
    assert not any(folder.exists() for folder in notebook.folders.values())


def test_isolation_says_where_memory_and_the_reference_are_not_bounded():
    gaps = sandbox.Isolation("bwrap", True, None, "no cgroup file system is mounted").not_isolated()
    assert any(g.startswith("memory per notebook (no cgroup: no cgroup file system") for g in gaps)
    assert "labutils' reference code included" in " ".join(sandbox.Isolation("unshare", True).not_isolated())
