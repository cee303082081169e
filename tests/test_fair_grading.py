"""Correct code earns its points in the grader as in the notebook checks: the lab notes' code pasted at the TODOs
of the student notebooks, the upstream solution, common variants; the usual mistakes earn there what they earn
in the checks, with the same message; a global the grader cannot rebuild is named with its cell. All graded in
one run."""
import inspect
import json
import re
from pathlib import Path

import nbformat
import pytest
import student_code
from student_code import MISTAKES
from student_variants import CONTEXT, GRADER_MISTAKES, NOTEBOOKS, NOTES, UPSTREAM, VARIANTS, notes_source
from test_grading import write_notebook

from labutils import grading
from labutils.grading import cli as grading_cli

ROOT = Path(__file__).resolve().parents[1]
FULL = sum(grading.RUBRIC.values())
# A cell that loads student_code.py into a namespace of its own, so that each mistake keeps the helpers it calls
CATALOG = '''def run_catalog(source):
    namespace = {"__name__": "__main__"}
    exec(compile(source, "<student_code>", "exec"), namespace)
    return namespace
'''


def pasted_notebooks(folder: Path) -> None:
    """The student notebooks 02-06 with the lab notes' code pasted at their TODOs."""
    for stem in sorted(set(NOTEBOOKS.values())):
        nb = nbformat.read(str(ROOT / "notebooks" / f"{stem}.ipynb"), as_version=4)
        for exercise in (e for e, s in NOTEBOOKS.items() if s == stem):
            cell = next(c for c in nb.cells if c.cell_type == "code" and re.match(rf"(def|class) {exercise}\(", c.source))
            cell.source = notes_source(exercise)
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(folder / f"{stem}.ipynb"))


# The mistakes whose verdict depends on where the grader ran the code (raised errors and where they came from,
# the signature, partial credit): graded in every run; the whole catalogue (23 notebooks) only with -m slow.
WHERE_IT_RAN = {"not_implemented", "signature", "generate_text.last_position", "compute_loss.recipe",
                "train_step.recipe", "vectorize_string.recipe", "LSTMModel.recipe"}
QUICK_MISTAKES = [m for m in MISTAKES if m[3] in WHERE_IT_RAN]


def mistakes_by_notebook(mistakes=QUICK_MISTAKES):
    """[{exercise: mistake}]: the usual mistakes, at most one per exercise in each notebook."""
    notebooks = []
    for name, student, *_ in mistakes:
        slot = next((n for n in notebooks if name not in n), None)
        if slot is None:
            slot = {}
            notebooks.append(slot)
        slot[name] = student.__name__
    return notebooks


def _variants_students():
    """[{exercise: source}]: each student holds the i-th variant of each exercise, the notes' code for the rest."""
    students = []
    for name, _, source in VARIANTS:
        slot = next((s for s in students if name not in s), None)
        if slot is None:
            slot = {}
            students.append(slot)
        slot[name] = source
    return [{**{n: notes_source(n) for n in NOTEBOOKS}, **s} for s in students]


def write_mistakes(folder: Path, by_notebook) -> None:
    """One notebook per {exercise: mistake} of `by_notebook`, each mistake taken from student_code.py."""
    catalog = "SOURCE = " + repr(inspect.getsource(student_code))
    for i, mistakes in enumerate(by_notebook):
        chosen = "\n".join(f"{name} = catalog[{student!r}]" for name, student in mistakes.items())
        write_notebook(folder / f"m{i:02d}.ipynb", catalog, CATALOG, "catalog = run_catalog(SOURCE)", chosen)


def grade_class(klass: Path):
    """{student: grade} of grading `klass` in one run (2 jobs)."""
    out = klass.parent / "grades"
    assert grading_cli.main([str(klass), "--out", str(out), "--jobs", "2", "--cell-timeout", "40", "--timeout",
                             "400", "--seed", "1", "--quiet"]) == 0
    return {g["student"]: g for g in json.loads((out / "grades.json").read_text())["students"]}


@pytest.fixture(scope="module")
def fair(tmp_path_factory):
    """Grade the class once: notes, upstream, variants, the mistakes whose verdict depends on where they ran,
    the grader's own mistakes."""
    klass = tmp_path_factory.mktemp("fair") / "class"
    pasted_notebooks(klass / "notes")
    write_notebook(klass / "upstream" / "lab.ipynb", CONTEXT, *UPSTREAM.values())
    for i, student in enumerate(_variants_students()):
        write_notebook(klass / f"variants{i}" / "lab.ipynb", CONTEXT, *student.values())
    write_mistakes(klass / "mistakes", mistakes_by_notebook())
    for _exercise, student, source, *_ in GRADER_MISTAKES:
        write_notebook(klass / student / "lab.ipynb", CONTEXT, source)
    return grade_class(klass)


def test_the_lab_notes_code_pasted_into_the_student_notebooks_earns_full_marks(fair):
    notes = fair["notes"]
    assert notes["total"] == FULL, {k: v["message"] for k, v in notes["exercises"].items() if v["points"] < v["max"]}
    failed_checks = [e for r in notes["reports"] for e in r["errors"] if "[FAIL]" in e["message"]]
    assert failed_checks == []  # every check cell of the notebooks passed in the kernel too
    assert {r["notebook"] for r in notes["reports"] if not r.get("not_run")} == {f"{s}.ipynb" for s in
                                                                                  set(NOTEBOOKS.values())}


def test_the_upstream_solution_earns_full_marks_but_for_generate_text_from_a_longer_start(fair):
    upstream = fair["upstream"]
    generate = upstream["exercises"].pop("generate_text")
    assert {k: v["points"] for k, v in upstream["exercises"].items()} == {
        k: v for k, v in grading.RUBRIC.items() if k != "generate_text"}
    assert generate["status"] == "partial" and generate["points"] == grading.submissions.PARTIAL["generate_text"]
    assert "from a one-character start string" in generate["message"] and "predictions[0, -1, :]" in generate["message"]


@pytest.mark.parametrize("student", range(len(_variants_students())))
def test_common_correct_variants_earn_full_marks(fair, student):
    grade = fair[f"variants{student}"]
    assert grade["total"] == FULL, {k: v["message"] for k, v in grade["exercises"].items() if v["points"] < v["max"]}


def _same_as_the_checks(grade, by_notebook) -> None:
    """Each mistake of `by_notebook` got the verdict and the message the notebook check gives it."""
    reports = {r["notebook"]: r for r in grade["reports"]}
    for i, mistakes in enumerate(by_notebook):
        verdicts = reports[f"m{i:02d}.ipynb"]["exercises"]
        for name, student in mistakes.items():
            _, _, expected, hint = next(m for m in MISTAKES if m[1].__name__ == student)
            partial = hint == "generate_text.last_position"  # right from one character: the rubric's partial credit
            assert verdicts[name]["status"] == ("partial" if partial else "not_implemented" if hint == "not_implemented"
                                                else "fail"), (student, verdicts[name])
            assert expected in verdicts[name]["message"], (student, verdicts[name]["message"])


def test_a_mistake_that_raises_earns_in_the_grader_what_it_earns_in_the_checks(fair):
    assert {m[3] for m in QUICK_MISTAKES} == WHERE_IT_RAN
    _same_as_the_checks(fair["mistakes"], mistakes_by_notebook())


@pytest.mark.slow
def test_each_usual_mistake_earns_in_the_grader_what_it_earns_in_the_checks(tmp_path):
    by_notebook = mistakes_by_notebook(MISTAKES)
    write_mistakes(tmp_path / "class" / "mistakes", by_notebook)
    _same_as_the_checks(grade_class(tmp_path / "class")["mistakes"], by_notebook)


@pytest.mark.parametrize("exercise, student, words, hint",
                         [(m[0], m[1], m[3], m[4]) for m in GRADER_MISTAKES], ids=[m[1] for m in GRADER_MISTAKES])
def test_a_global_the_grader_cannot_rebuild_is_named_with_its_cell_and_why(fair, exercise, student, words, hint):
    from labutils.exercises import texts
    from labutils.messages import template_regex

    result = fair[student]["exercises"][exercise]
    assert result["status"] == "fail" and words.format(cell=3) in result["message"], result["message"]
    assert template_regex(texts.HINTS[hint]).fullmatch(result["message"].partition(" — hint: ")[2]), result["message"]


def test_notebook_05_imports_nn_for_the_loss_object_of_the_notes():
    assert "cross_entropy = nn.CrossEntropyLoss()" in NOTES["compute_loss"]
    imports = next(c for c in nbformat.read(str(ROOT / "notebooks" / "05_training.ipynb"), as_version=4).cells
                   if c.cell_type == "code" and "import torch" in c.source)
    assert re.search(r"^from torch import nn$|^import torch\.nn as nn$", imports.source, re.M), imports.source


def test_the_probe_process_rebuilds_only_what_the_exercises_read():
    from labutils.exercises import probes
    from labutils.grading.probe_process import plan, read_cells

    cells = [{"index": 0, "source": "import numpy as np\nimport matplotlib.pyplot as plt\nfrom torch import nn"},
             {"index": 1, "source": "cross_entropy = nn.CrossEntropyLoss()\nrng = np.random.default_rng(0)\n"
                                    "def compute_loss(labels, logits):\n    return cross_entropy(logits, labels)"},
             {"index": 2, "source": "history = train(model, steps=3000)\nplt.plot(history)\n"
                                    "device = torch.device('cpu')\nfor i in range(3):\n    idx2char = i"}]
    results = {"definition_errors": [], "unrebuilt": {}}
    chosen = plan(read_cells(cells, results), ["compute_loss", "train_step", "generate_text"], probes.PROVIDED)
    assert [ast_source(s.node) for s in chosen] == ["from torch import nn", "cross_entropy = nn.CrossEntropyLoss()",
                                                    "def compute_loss(labels, logits):\n    return cross_entropy(logits, labels)"]
    assert results["unrebuilt"] == {"idx2char": {"cell": 2, "why": "not_rerun"}, "i": {"cell": 2, "why": "not_rerun"}}


def ast_source(node):
    """The code of a parsed statement."""
    import ast

    return ast.unparse(node)
