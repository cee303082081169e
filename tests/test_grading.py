"""The grader: full marks for solutions, zero for untouched notebooks, one mistake costs one exercise,
and hostile or broken submissions are graded with a reason instead of breaking the run."""
import csv
import inspect
import json
import sys
from pathlib import Path

import nbformat
import pytest
import student_code as solutions

from labutils import grading
from labutils.grading import cli as grading_cli

ROOT = Path(__file__).resolve().parents[1]
HEADER = """import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
import labutils
from labutils.corpus import lab_vocab
vocab, char2idx, idx2char = lab_vocab()
device = torch.device("cpu")
"""
FULL = sum(grading.RUBRIC.values())


def source(*objects, rename=None):
    """Source text of student_code's functions/classes, optionally renamed to the exercise's name."""
    text = "\n\n".join(inspect.getsource(obj) for obj in objects)
    for old, new in (rename or {}).items():
        text = text.replace(f"def {old}(", f"def {new}(")
    return text


def solution_source(**replace):
    """All six solutions, with some replaced by the given mistake sources."""
    return "\n\n".join(replace.get(name) or source(obj) for name, obj in solutions.SOLUTIONS.items())


UNTOUCHED = "\n\n".join(f"def {name}(*args, **kwargs):\n    raise NotImplementedError('TODO: write {name}')"
                        for name in solutions.SOLUTIONS if name != "LSTMModel") + """

class LSTMModel(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_size):
        super().__init__()
        raise NotImplementedError("TODO: build the layers")
"""
TAMPER = """import labutils.checks, labutils.grading, labutils.exercises.judges, labutils.exercises.probes
from labutils.exercises.judges import Verdict
labutils.exercises.judges.judge = labutils.checks.judge = lambda *args, **kwargs: Verdict("pass", "[PASS] trust me")
labutils.grading.RUBRIC["compute_loss"] = 100
labutils.exercises.probes.run_probe = lambda *args: {"data": {}}
from labutils.batches import get_batch
from labutils.model import LSTMModel
from labutils.training import train_step

def vectorize_string(string):
    return labutils.text.vectorize_string(string, char2idx)

def compute_loss(labels, logits):
    return torch.tensor(0.0)
"""


def write_notebook(path, *cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A submission")] + [nbformat.v4.new_code_cell(c) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade a class of small generated submissions once (2 jobs); return (grades by student, out folder)."""
    root = tmp_path_factory.mktemp("class")
    klass = root / "submissions"
    first = ("vectorize_string", "get_batch", "LSTMModel")
    write_notebook(klass / "solution" / "01_first.ipynb", HEADER, "\n\n".join(source(solutions.SOLUTIONS[n]) for n in first))
    write_notebook(klass / "solution" / "02_rest.ipynb", HEADER, "from labutils.batches import get_batch",
                   "\n\n".join(source(o) for n, o in solutions.SOLUTIONS.items() if n not in first))
    write_notebook(klass / "untouched" / "lab.ipynb", HEADER, UNTOUCHED,
                   "labutils.checks.check_get_batch(get_batch, np.arange(100))")
    mistakes = {
        "compute_loss": source(solutions.loss_logits_not_flattened, rename={"loss_logits_not_flattened": "compute_loss"}),
        "train_step": source(solutions.step_no_zero_grad, rename={"step_no_zero_grad": "train_step"}),
        "generate_text": source(solutions.sample, solutions.generate_loop, solutions.generate_argmax,
                                rename={"generate_argmax": "generate_text"}),
    }
    for name, wrong in mistakes.items():
        write_notebook(klass / f"wrong_{name}" / "lab.ipynb", HEADER, solution_source(**{name: wrong}))
    write_notebook(klass / "messy" / "lab.ipynb", HEADER, "def broken(:\n    pass", "print('x' * 25_000_000)",
                   "import os\nopen('junk.txt', 'w').write('x')\nfor f in os.listdir('.'):\n    os.remove(f)",
                   "import sys\nsys.exit(3)", "while True:\n    pass", "raise ValueError('oops')", solution_source())
    write_notebook(klass / "tail" / "lab.ipynb", HEADER, solution_source(), "raise ValueError('after the exercises')")
    write_notebook(klass / "killer" / "lab.ipynb", HEADER, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
                   solution_source())
    write_notebook(klass / "tamper" / "lab.ipynb", HEADER, TAMPER)
    (klass / "garbage").mkdir()
    (klass / "garbage" / "lab.ipynb").write_text("this is not JSON {")
    out = root / "grades"
    status = grading_cli.main([str(klass), "--out", str(out), "--jobs", "2", "--cell-timeout", "8", "--timeout", "90"])
    assert status == 0
    data = json.loads((out / "grades.json").read_text())
    return {g["student"]: g for g in data["students"]}, out


def test_solution_in_two_notebooks_gets_full_marks(graded):
    grades, _ = graded
    solution = grades["solution"]
    assert solution["total"] == solution["max"] == FULL, solution["exercises"]
    assert solution["status"] == "ok"
    assert solution["exercises"]["get_batch"]["notebook"] == "01_first.ipynb"  # the import in 02 does not count
    assert solution["exercises"]["train_step"]["notebook"] == "02_rest.ipynb"


def test_untouched_notebook_gets_zero_and_says_not_implemented(graded):
    untouched = graded[0]["untouched"]
    assert untouched["total"] == 0
    assert {e["status"] for e in untouched["exercises"].values()} == {"not_implemented"}
    assert "not implemented yet" in untouched["exercises"]["generate_text"]["message"]


@pytest.mark.parametrize("exercise, phrase", [("compute_loss", "flatten logits"),
                                              ("train_step", "optimizer.zero_grad()"),
                                              ("generate_text", "argmax")])
def test_one_mistake_loses_exactly_that_exercise(graded, exercise, phrase):
    grade = graded[0][f"wrong_{exercise}"]
    assert grade["total"] == FULL - grading.RUBRIC[exercise], grade["exercises"]
    assert grade["exercises"][exercise]["status"] == "fail"
    assert phrase in grade["exercises"][exercise]["message"]


def test_messy_notebook_is_graded_despite_errors_exits_loops_and_huge_output(graded):
    messy = graded[0]["messy"]
    assert messy["total"] == FULL, messy["exercises"]
    assert "huge output was cut" in messy["status"]
    errors = {e["error"] for e in messy["reports"][0]["errors"]}
    assert {"SyntaxError", "SystemExit", "ValueError"} <= errors
    assert errors & {"Timeout", "KeyboardInterrupt"}  # the endless loop was interrupted


def test_cells_after_the_last_exercise_are_not_run_and_the_report_says_so(graded, tmp_path):
    tail = graded[0]["tail"]
    assert tail["total"] == FULL and tail["status"] == "ok", tail["exercises"]
    report = tail["reports"][0]
    assert report["errors"] == [] and "cell 4, after the last exercise, was not run" in report["cells_not_run"]
    path = graded[1].parent / "submissions" / "tail" / "lab.ipynb"
    everything = grading.grade_notebook(path, 0, cell_timeout=8, timeout=90, threads=None, run_all=True)
    assert [e["error"] for e in everything["errors"]] == ["ValueError"] and "cells_not_run" not in everything


def test_cell_that_kills_the_kernel_is_skipped_and_the_rest_graded(graded):
    killer = graded[0]["killer"]
    assert killer["total"] == FULL, killer["exercises"]
    assert "kernel died in cell 3" in killer["status"]


def test_patching_checks_rubric_or_reference_in_the_notebook_earns_nothing(graded):
    tamper = graded[0]["tamper"]
    assert tamper["total"] == 0 and tamper["max"] == FULL
    statuses = {name: e["status"] for name, e in tamper["exercises"].items()}
    assert statuses["compute_loss"] == "fail"
    assert statuses["vectorize_string"] == "not_implemented"  # a wrapper around labutils' reference
    assert statuses["get_batch"] == statuses["LSTMModel"] == statuses["train_step"] == "missing"


def test_notebook_that_is_not_json_gets_zero_with_the_reason(graded):
    garbage = graded[0]["garbage"]
    assert garbage["total"] == 0 and "not a readable notebook" in garbage["status"]


def test_reports_csv_json_and_feedback(graded):
    grades, out = graded
    rows = {row["student"]: row for row in csv.DictReader(open(out / "grades.csv"))}
    assert set(rows) == set(grades)
    assert int(rows["solution"]["total"]) == FULL and int(rows["wrong_train_step"]["train_step"]) == 0
    assert list(rows["solution"])[1:7] == list(grading.RUBRIC)
    feedback = (out / "feedback" / "wrong_train_step.txt").read_text()
    assert f"{FULL - grading.RUBRIC['train_step']}/{FULL} points" in feedback and "— hint: " in feedback
    assert len(list((out / "feedback").glob("*.txt"))) == len(grades)


def test_submission_layouts(tmp_path):
    for path in ("class/ann/01.ipynb", "class/ann/02.ipynb", "class/ben/lab.ipynb", "dan/x.ipynb", "eve.ipynb"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("{}")
    found = grading.find_submissions([str(tmp_path / "class"), str(tmp_path / "dan"), str(tmp_path / "eve.ipynb"),
                                      str(tmp_path / "eve.ipynb")])
    assert [(name, [p.name for p in notebooks]) for name, notebooks in found] == [
        ("ann", ["01.ipynb", "02.ipynb"]), ("ben", ["lab.ipynb"]), ("dan", ["x.ipynb"]), ("eve", ["eve.ipynb"]),
        ("eve-2", ["eve.ipynb"])]


def test_usage_errors_exit_2(tmp_path, capsys):
    assert grading_cli.main([str(tmp_path / "nowhere")]) == 2
    assert grading_cli.main([str(tmp_path)]) == 2
    assert "no .ipynb" in capsys.readouterr().err


def test_kernel_runs_this_python(tmp_path):
    from labutils.grading import kernel as grading_kernel

    spec = grading_kernel._kernel_spec_manager(tmp_path).get_kernel_spec(grading_kernel.KERNEL_NAME)
    assert spec.argv[0] == sys.executable


@pytest.mark.slow
def test_uninterruptible_loop_hits_the_total_timeout(tmp_path):
    write_notebook(tmp_path / "stubborn.ipynb", HEADER,
                   "import time\nwhile True:\n    try:\n        time.sleep(1)\n    except KeyboardInterrupt:\n        pass",
                   solution_source())
    grade = grading.grade_student("stubborn", [tmp_path / "stubborn.ipynb"], 0, cell_timeout=5, timeout=20)
    assert "total timeout" in grade["status"] or "could not test" in grade["status"]


def _lab_notebooks(folder):
    paths = sorted((ROOT / folder).glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        pytest.skip(f"no {folder}/ notebooks yet")
    return paths


@pytest.mark.slow
def test_solution_notebooks_get_full_marks(tmp_path):
    grade = grading.grade_student("solutions", _lab_notebooks("solutions"), 0, cell_timeout=300, timeout=900)
    assert grade["total"] == grade["max"], grade["exercises"]


@pytest.mark.slow
def test_student_notebooks_get_zero(tmp_path):
    grade = grading.grade_student("notebooks", _lab_notebooks("notebooks"), 0, cell_timeout=300, timeout=900)
    assert grade["total"] == 0, grade["exercises"]
    assert all(e["status"] in ("not_implemented", "missing") for e in grade["exercises"].values())


def test_the_labs_setup_cell_is_not_flagged_but_a_students_importlib_is():
    from labutils.grading.analysis import suspicious_names
    from labutils.notebooks import setup_cell_source

    setup = nbformat.v4.new_code_cell(setup_cell_source())
    nb = nbformat.v4.new_notebook(cells=[setup, nbformat.v4.new_code_cell("x = 1")])
    assert suspicious_names(nb) == []
    nb.cells.append(nbformat.v4.new_code_cell("import importlib\nref = importlib.import_module('labutils.batches')"))
    assert suspicious_names(nb) == ["importlib"]
    nb.cells[0].source = setup_cell_source() + "\nimport subprocess; subprocess.run(['true'])"  # a changed set-up cell
    assert "subprocess" in suspicious_names(nb)
