"""Hostile notebooks against the sandboxed grader: each promise is one small notebook, all graded
in one run; tests that need Linux namespaces or root skip with the reason elsewhere."""
import inspect
import json
import os
import socket
import sys
from pathlib import Path

import pytest
from test_grading import FULL, HEADER, UNTOUCHED, solution_source, write_notebook

from labutils.exercises import probes
from labutils.exercises.inputs import make_inputs
from labutils.exercises.judges import judge
from labutils.grading import cli as grading_cli
from labutils.grading import sandbox

ISOLATION = sandbox.detect()
needs_namespaces = pytest.mark.skipif(ISOLATION.mode == "none", reason="needs bubblewrap or unshare (as root) on Linux")
needs_root = pytest.mark.skipif(not ISOLATION.root, reason="needs root (a distinct uid for the kernel)")
MARKER = f"labutils-sandbox-test-{os.getpid()}"

BACKGROUND = f"""import os, subprocess, time
subprocess.Popen(["sleep", "1000.{os.getpid()}"], start_new_session=True)
if os.fork() == 0:  # a detached daemon that would rewrite grades later
    os.setsid()
    os.execvp("sleep", ["sleep", "1001.{os.getpid()}"])
time.sleep(0.5)
"""
FORGE_SAVE = """import torch, labutils.exercises.probes as P, labutils.text, labutils.batches, labutils.model, labutils.training, labutils.sampling
REF = {"vectorize_string": lambda s: labutils.text.vectorize_string(s, char2idx), "get_batch": labutils.batches.get_batch,
       "LSTMModel": labutils.model.LSTMModel, "compute_loss": labutils.training.compute_loss,
       "train_step": labutils.training.train_step, "generate_text": labutils.sampling.generate_text}
_load, _save, seen = torch.load, torch.save, {}
def load(*args, **kwargs):
    value = _load(*args, **kwargs)
    if isinstance(value, dict) and "get_batch" in value:
        seen.update(value)
    return value
def save(obj, *args, **kwargs):
    if isinstance(obj, dict) and "exercises" in obj and seen:
        obj = {**obj, "exercises": {n: P.run_probe(n, REF[n], seen[n]) for n in REF}}
    return _save(obj, *args, **kwargs)
torch.load, torch.save = load, save
"""
FORGE_EXEC = """import builtins
from labutils.batches import get_batch as _reference_get_batch
_exec = builtins.exec
def exec_(source, *args):
    if isinstance(source, str) and "_delegates_to_reference" in source:
        source = source.replace("def _delegates_to_reference(obj, name):", "def _delegates_to_reference(obj, name):\\n    return False")
    return _exec(source, *args)
builtins.exec = exec_
def get_batch(vectorized_songs, seq_length, batch_size):
    return _reference_get_batch(vectorized_songs, seq_length, batch_size)
"""
CALL_TIME = """import importlib, inspect, sys, types
def vectorize_string(string):
    return importlib.import_module("labutils.text").vectorize_string(string, char2idx)

def get_batch(vectorized_songs, seq_length, batch_size):
    return sys.modules["labutils.batches"].get_batch(vectorized_songs, seq_length, batch_size)

def compute_loss(labels, logits):
    return getattr(importlib.import_module("labutils." + "training"), "compute_" + "loss")(labels, logits)

def train_step(model, optimizer, x_batch, y_batch):
    reference = importlib.import_module("labutils.training").train_step
    copy = types.FunctionType(reference.__code__, reference.__globals__, "mine", reference.__defaults__)
    return copy(model, optimizer, x_batch, y_batch)

def generate_text(model, start_string, generation_length=1000):
    module = importlib.import_module("labutils.sampling")
    namespace = dict(vars(module))
    exec(inspect.getsource(module.generate_text), namespace)
    return namespace["generate_text"](model, start_string, generation_length, char2idx=char2idx, vocab=vocab)

class LSTMModel(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_size):
        super().__init__()
        self.inner = importlib.import_module("labutils.model").LSTMModel(vocab_size, embedding_dim, hidden_size)
    def init_hidden(self, batch_size, device):
        return self.inner.init_hidden(batch_size, device)
    def forward(self, x, state=None, return_state=False):
        return self.inner(x, state, return_state)
"""


def _pasted_reference():
    """labutils' own get_batch source, pasted into a cell (identical to the reference: flagged, not zeroed)."""
    from labutils.batches import get_batch

    return "from typing import Tuple\nRngLike = None\n" + inspect.getsource(get_batch).replace(
        "rng: RngLike = None", "rng=None")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """Grade the hostile class once; return (grades by student, out folder, tmp root, connections seen)."""
    root = tmp_path_factory.mktemp("hostile")
    klass = root / "class"
    outside = root / "outside"
    outside.mkdir()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    os.environ["MY_API_TOKEN"] = "secret-for-the-test"
    write_notebook(klass / "solution" / "lab.ipynb", HEADER, solution_source())
    write_notebook(klass / "untouched" / "lab.ipynb", HEADER, UNTOUCHED)
    write_notebook(klass / "background" / "lab.ipynb", HEADER, BACKGROUND, solution_source())
    write_notebook(klass / "writer" / "lab.ipynb", HEADER,
                   f"import pathlib\nfor p in [{str(outside / 'pwned.txt')!r}, {str(klass / 'solution' / 'pwned.txt')!r}]:\n"
                   "    try:\n        pathlib.Path(p).write_text('x')\n    except OSError as e:\n        print(e)",
                   "import os\nif 'MY_API_TOKEN' in os.environ:\n    raise RuntimeError('token visible')",
                   f"import os\nif os.path.exists({str(klass)!r}):\n    raise RuntimeError('submissions visible')",
                   solution_source())
    write_notebook(klass / "network" / "lab.ipynb", HEADER,
                   f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=3)\ns.sendall(b'pwned')",
                   solution_source())
    write_notebook(klass / "memory" / "lab.ipynb", HEADER, "hog = bytearray(3 * 2**30)", solution_source())
    write_notebook(klass / "parent_killer" / "lab.ipynb", HEADER,
                   "import os, signal\nfor pid in (os.getppid(), 1):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
                   "    except OSError as e:\n        print(e)", solution_source())
    write_notebook(klass / "forge_save" / "lab.ipynb", HEADER, FORGE_SAVE, UNTOUCHED)
    write_notebook(klass / "forge_exec" / "lab.ipynb", HEADER, FORGE_EXEC)
    write_notebook(klass / "call_time" / "lab.ipynb", HEADER, CALL_TIME)
    write_notebook(klass / "pasted" / "lab.ipynb", HEADER, _pasted_reference())
    write_notebook(klass / "slow_probe" / "lab.ipynb", HEADER, solution_source(),
                   "while True:\n    pass",  # a hanging cell, before the last exercise (the kernel runs up to it)
                   "def get_batch(vectorized_songs, seq_length, batch_size):\n    while True:\n        pass")
    out = root / "grades"
    status = grading_cli.main([str(klass), "--out", str(out), "--jobs", "2", "--cell-timeout", "6", "--timeout", "45",
                               "--memory", "2G"])
    connections = []
    try:
        while True:
            connections.append(listener.accept())
    except BlockingIOError:
        pass
    listener.close()
    del os.environ["MY_API_TOKEN"]
    assert status == 0
    data = json.loads((out / "grades.json").read_text())
    return {g["student"]: g for g in data["students"]}, out, root, connections, data


def _sleepers():
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if f"100{0}.{os.getpid()}".encode() in (entry / "cmdline").read_bytes() or \
                        f"1001.{os.getpid()}".encode() in (entry / "cmdline").read_bytes():
                    found.append(entry.name)
            except OSError:
                continue
    return found


def test_solution_full_untouched_zero(hostile):
    grades = hostile[0]
    assert grades["solution"]["total"] == FULL, grades["solution"]["exercises"]
    assert grades["untouched"]["total"] == 0


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to look for left-over processes")
def test_nothing_a_notebook_started_is_left_running(hostile):
    assert hostile[0]["background"]["total"] == FULL, hostile[0]["background"]["exercises"]
    assert _sleepers() == []


@needs_namespaces
def test_no_file_written_outside_and_no_secrets_or_submissions_seen(hostile):
    grades, _, root, _, _ = hostile
    assert not (root / "outside" / "pwned.txt").exists()
    assert not (root / "class" / "solution" / "pwned.txt").exists()
    messages = {e["message"] for r in grades["writer"]["reports"] for e in r["errors"]}
    assert "token visible" not in messages
    if ISOLATION.mode == "bwrap":
        assert "submissions visible" not in messages
    assert grades["writer"]["total"] == FULL


@needs_namespaces
def test_no_network_connection_to_this_machine(hostile):
    grades, _, _, connections, _ = hostile
    assert connections == []
    errors = [e["error"] for r in grades["network"]["reports"] for e in r["errors"]]
    assert errors and grades["network"]["total"] == FULL


def test_allocation_over_the_memory_limit_is_stopped_and_reported(hostile):
    memory = hostile[0]["memory"]
    assert "memory limit of 2 GiB reached in cell 3" in memory["status"], memory["status"]
    assert memory["total"] == FULL


@needs_root
def test_killing_the_parent_does_not_stop_the_grader(hostile):
    grades = hostile[0]
    assert grades["parent_killer"]["total"] == FULL, grades["parent_killer"]
    assert len(grades) == 12  # every student graded, with 2 jobs


@pytest.mark.parametrize("student", ["forge_save", "forge_exec", "call_time"])
def test_forgeries_and_call_time_reference_earn_nothing(hostile, student):
    grade = hostile[0][student]
    assert grade["total"] == 0, {k: v["message"] for k, v in grade["exercises"].items()}


def test_each_call_time_trick_is_reported_as_using_the_reference(hostile):
    exercises = hostile[0]["call_time"]["exercises"]
    for name, result in exercises.items():
        assert result["status"] == "not_implemented" and "reference" in result["message"], (name, result)


def test_call_time_tricks_would_pass_without_the_trap():
    """The tricks do compute the right answers: only the trap stops them (so the test above can fail)."""
    import importlib

    from labutils.corpus import lab_vocab

    namespace = {"np": __import__("numpy"), "torch": __import__("torch"), "nn": __import__("torch").nn,
                 "__name__": "__main__"}
    namespace["vocab"], namespace["char2idx"], _ = lab_vocab()
    exec(CALL_TIME, namespace)
    rng = __import__("numpy").random.default_rng(0)
    for name in ("get_batch", "compute_loss", "train_step"):
        inputs = make_inputs(name, rng)
        assert judge(name, inputs, {"data": probes.PROBES[name](namespace[name], inputs, {})}).passed, name
    assert importlib.import_module("labutils.batches")


def test_identical_code_is_flagged_not_zeroed(hostile):
    grades, out, _, _, data = hostile
    assert grades["pasted"]["exercises"]["get_batch"]["status"] == "pass"
    assert any("get_batch is identical to labutils' reference" in f for f in grades["pasted"]["flags"])
    assert any("background" in f for f in grades["solution"]["flags"])
    pairs = data["review"]["identical_between_students"]
    assert any({"solution", "background"} <= set(p["students"]) for p in pairs)
    assert not any("untouched" in p["students"] for p in pairs)  # the template is not a copy
    header = (out / "grades.csv").read_text().splitlines()[0]
    assert header.endswith(",flags")
    assert any("review by hand" in f for f in grades["forge_save"]["flags"])


def test_a_hanging_cell_and_a_probe_that_runs_too_long_are_reported_as_such(hostile):
    grade = hostile[0]["slow_probe"]
    message = grade["exercises"]["get_batch"]["message"]
    assert "did not finish in time" in message and "stopped the Python" not in message
    assert grade["total"] == FULL - 2, grade["exercises"]  # the hanging cell hides no later definition
    assert "Timeout" in {e["error"] for r in grade["reports"] for e in r["errors"]}


def test_a_cell_that_ignores_the_interrupt_is_named_and_the_cells_after_it_still_run(tmp_path):
    """Left busy, the kernel would make every later cell time out behind the stubborn one; the grader
    stops it, runs the notebook again without that cell, and says which cell it was."""
    write_notebook(tmp_path / "class" / "stubborn" / "lab.ipynb", HEADER,
                   "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
                   solution_source())
    out = tmp_path / "grades"
    assert grading_cli.main([str(tmp_path / "class"), "--out", str(out), "--cell-timeout", "5", "--timeout", "90",
                             "--quiet"]) == 0
    grade = json.loads((out / "grades.json").read_text())["students"][0]
    report = grade["reports"][0]
    assert any(p.startswith("cell 3 ran over the cell timeout and did not stop when interrupted")
               for p in report["problems"]), report["problems"]
    assert not any("total timeout" in p or "died" in p for p in report["problems"]), report["problems"]
    assert report["errors"] == []  # the solution's cell, run after the stubborn one was dropped, timed out nowhere
    assert grade["total"] == FULL, grade["exercises"]


def test_limits_are_flags_with_sizes():
    args = grading_cli.build_parser().parse_args(["x", "--memory", "700M", "--max-file-size", "2G"])
    assert sandbox.parse_bytes(args.memory) == 700 * 2**20 and sandbox.parse_bytes(args.max_file_size) == 2 * 2**30
    with pytest.raises(ValueError, match="not a size"):
        sandbox.parse_bytes("lots")
    assert "memory limit of 4 GiB" == sandbox.Limits().describe("memory")


def test_kernel_environment_is_an_allowlist(monkeypatch):
    monkeypatch.setenv("MY_API_TOKEN", "x")
    env = sandbox.sandbox_env("/tmp/home", 2)
    assert "MY_API_TOKEN" not in env and env["HOME"] == "/tmp/home" and env["LABUTILS_SMALL"] == "1"
    assert env["OMP_NUM_THREADS"] == "2" and set(env) <= {
        "PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ", "LABUTILS_SMALL", "CUDA_VISIBLE_DEVICES",
        "PYTHONDONTWRITEBYTECODE", "MPLBACKEND", "PYTHONPATH", "JUPYTER_PLATFORM_DIRS", "PYTHONUNBUFFERED",
        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"}
    assert sys.executable
