"""The notebook build (solutions/ -> notebooks/), the Colab header, and the student notebooks run as students get them."""
import ast
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from labutils import notebooks
from labutils.authoring import build, sources, transforms, translation

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
STUDENT = ROOT / "notebooks"
NAMES = sorted(p.name for p in SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))
EXPECTED_NAMES = ["01_data.ipynb", "02_vectorization.ipynb", "03_batches.ipynb", "04_model.ipynb",
                  "05_training.ipynb", "06_sampling.ipynb", "07_playback.ipynb", "08_experiments.ipynb"]


def read(path):
    return nbformat.read(path, as_version=4)


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def exercise_cells(nb):
    return [cell for cell in code_cells(nb) if transforms.BEGIN_SOLUTION in cell.source]


def test_one_solution_and_one_student_notebook_per_step():
    assert NAMES == EXPECTED_NAMES
    assert sorted(p.name for p in STUDENT.glob("*.ipynb")) == EXPECTED_NAMES


def test_committed_notebooks_are_what_the_build_makes(capsys):
    assert build.check_notebooks(SOLUTIONS, STUDENT) == []
    assert build.main(["--check", "--solutions", str(SOLUTIONS), "--out", str(STUDENT)]) == 0


def test_build_is_deterministic(tmp_path):
    solutions = shutil.copytree(SOLUTIONS, tmp_path / "solutions")
    shutil.copytree(ROOT / "translations", tmp_path / "translations")  # the editions (notebooks/zh/) too
    first = build.build_notebooks(solutions, tmp_path / "a")  # solutions are up to date: only a/ is written
    build.build_notebooks(solutions, tmp_path / "b")
    editions = [f"zh/{name}" for name in EXPECTED_NAMES]
    assert sorted(p.relative_to(tmp_path / "a").as_posix() for p in first) == sorted(EXPECTED_NAMES + editions)
    for name in EXPECTED_NAMES + editions:
        built = (tmp_path / "a" / name).read_bytes()
        assert built == (tmp_path / "b" / name).read_bytes() == (STUDENT / name).read_bytes()
    assert build.build_notebooks(solutions, tmp_path / "a") == []  # nothing left to change


def test_build_refreshes_a_stale_badge_in_a_solution(tree):
    solutions, out = tree
    path = solutions / "01_data.ipynb"
    path.write_text(path.read_text(encoding="utf-8").replace(notebooks.repo_slug(), "someone/old-fork"),
                    encoding="utf-8")
    assert any("Colab badge" in line for line in build.check_notebooks(solutions, out))
    assert path in build.build_notebooks(solutions, out)
    assert path.read_bytes() == (SOLUTIONS / "01_data.ipynb").read_bytes()


@pytest.fixture
def tree(tmp_path):
    """A copy of solutions/, notebooks/ and translations/ (the editions' catalogs) to break."""
    shutil.copytree(SOLUTIONS, tmp_path / "solutions")
    shutil.copytree(STUDENT, tmp_path / "notebooks")
    shutil.copytree(ROOT / "translations", tmp_path / "translations")
    return tmp_path / "solutions", tmp_path / "notebooks"


def run_main(*args):
    return build.main([str(a) for a in args])


def test_check_fails_and_names_a_hand_edited_notebook(tree, capsys):
    solutions, out = tree
    edited = out / "03_batches.ipynb"
    nb = read(edited)
    next(c for c in code_cells(nb) if "NotImplementedError" in c.source).source = "x_batch = y_batch = None"
    nbformat.write(nb, edited)
    assert run_main("--check", "--solutions", solutions, "--out", out) == 1
    report = capsys.readouterr().out
    assert "03_batches.ipynb" in report and "01_data.ipynb" not in report
    assert run_main("--solutions", solutions, "--out", out) == 0  # a hand edit is kept ...
    assert edited.read_bytes() != (STUDENT / "03_batches.ipynb").read_bytes()
    assert "kept" in capsys.readouterr().out
    assert run_main("--solutions", solutions, "--out", out, "--force") == 0  # ... unless --force
    assert edited.read_bytes() == (STUDENT / "03_batches.ipynb").read_bytes()
    assert run_main("--check", "--solutions", solutions, "--out", out) == 0


def test_check_fails_when_a_solution_changed_without_a_rebuild(tree, capsys):
    solutions, out = tree
    path = solutions / "02_vectorization.ipynb"
    path.write_text(path.read_text(encoding="utf-8").replace("Exercise 1", "Exercise one"), encoding="utf-8")
    assert run_main("--check", "--solutions", solutions, "--out", out) == 1
    assert "notebooks/02_vectorization.ipynb" in capsys.readouterr().out


def test_check_fails_on_missing_and_stale_notebooks(tree, capsys):
    solutions, out = tree
    (out / "04_model.ipynb").unlink()
    (solutions / "08_experiments.ipynb").unlink()  # notebooks/08 now has no solution
    assert run_main("--check", "--solutions", solutions, "--out", out) == 1
    report = capsys.readouterr().out
    assert "04_model.ipynb: missing" in report and "08_experiments.ipynb" in report
    run_main("--solutions", solutions, "--out", out)
    assert (out / "04_model.ipynb").is_file() and not (out / "08_experiments.ipynb").exists()


def test_missing_solutions_folder_is_a_clear_error(tmp_path, capsys):
    assert run_main("--check", "--solutions", tmp_path / "nope", "--out", tmp_path / "out") == 2
    assert "No solutions folder" in capsys.readouterr().out


@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_student_notebook_is_clean_valid_python(name):
    nb = read(STUDENT / name)
    nbformat.validate(nb)
    for index, cell in enumerate(code_cells(nb)):
        ast.parse(cell.source, filename=f"{name} code cell {index}")
        assert cell.outputs == [] and cell.execution_count is None
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "NBVAL_"):
            assert marker not in cell.source, f"{name}: {marker!r} left in a student cell"
    assert nb.metadata["labutils"]["generated_from"] == f"solutions/{name}"


@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_each_exercise_becomes_a_todo_that_raises(name):
    solution, student = read(SOLUTIONS / name), read(STUDENT / name)
    assert len(solution.cells) == len(student.cells)
    for sol_cell, stu_cell in zip(solution.cells, student.cells):
        regions = sol_cell.source.count(transforms.BEGIN_SOLUTION) if sol_cell.cell_type == "code" else 0
        raises = re.findall(r'raise NotImplementedError\("TODO: ([^"]+)"\)', stu_cell.source)
        assert len(raises) == regions
        for hint in raises:  # the hint comment stays in both versions
            assert f"# TODO: {hint}" in sol_cell.source and f"# TODO: {hint}" in stu_cell.source
        if regions:
            solved = re.findall(r"### BEGIN SOLUTION\n(.*?)\n\s*### END SOLUTION", sol_cell.source, re.S)
            for body in solved:
                for line in body.splitlines():
                    assert line.strip() not in stu_cell.source.splitlines() or not line.strip(), line
        elif sol_cell.cell_type == "code" and notebooks.SETUP_TAG not in sol_cell.metadata.get("tags", []):
            kept = [line for line in sol_cell.source.splitlines() if not line.startswith("# NBVAL_")]
            assert stu_cell.source.splitlines() == kept  # cells without exercises are the solution's


def test_the_exercises_of_the_lab():
    def exercises(name):
        return sum(cell.source.count(transforms.BEGIN_SOLUTION) for cell in exercise_cells(read(SOLUTIONS / name)))

    assert {name: exercises(name) for name in EXPECTED_NAMES} == {
        "01_data.ipynb": 0, "02_vectorization.ipynb": 1, "03_batches.ipynb": 2, "04_model.ipynb": 3,
        "05_training.ipynb": 2, "06_sampling.ipynb": 1, "07_playback.ipynb": 0, "08_experiments.ipynb": 0}


CHECKED = {"vectorize_string": "check_vectorize_string", "get_batch": "check_get_batch",
           "LSTMModel": "check_lstm_model", "compute_loss": "check_compute_loss",
           "train_step": "check_train_step", "generate_text": "check_generate_text"}


@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_every_exercise_is_followed_by_its_check(name):
    cells = code_cells(read(SOLUTIONS / name))
    for index, cell in enumerate(cells):
        if transforms.BEGIN_SOLUTION not in cell.source:
            continue
        defined = [node.name for node in ast.parse(cell.source).body
                   if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
        assert len(defined) == 1 and defined[0] in CHECKED, f"{name}: an exercise cell defines one checked name"
        assert f"labutils.checks.{CHECKED[defined[0]]}({defined[0]}" in cells[index + 1].source


@pytest.mark.parametrize("folder", [SOLUTIONS, STUDENT], ids=["solutions", "notebooks"])
def test_badge_and_install_cell_come_from_the_repository_constant(folder):
    role = folder.name
    for name in EXPECTED_NAMES:
        nb = read(folder / name)
        first = nb.cells[0]
        assert first.cell_type == "markdown" and first.source.startswith("# ")
        badge = notebooks.badge_markdown(f"{role}/{name}")
        assert badge in first.source
        assert f"https://colab.research.google.com/github/{notebooks.repo_slug()}/blob/{notebooks.BRANCH}/{role}/{name}" \
            in badge
        setup = nb.cells[1]
        assert notebooks.SETUP_TAG in setup.metadata["tags"]
        assert setup.source == notebooks.setup_cell_source()
        assert notebooks.REPO_URL in setup.source and f"@{notebooks.BRANCH}" in setup.source
        assert 'if "google.colab" in sys.modules' in setup.source and "!" not in setup.source.replace("!=", "")


def test_repository_url_stands_in_one_place_in_the_code():
    hits = [path.name for path in (ROOT / "labutils").rglob("*.py")
            if "github.com/" in path.read_text(encoding="utf-8")]
    assert hits == ["notebooks.py"]


def test_setup_cell_does_nothing_outside_colab():
    namespace = {}
    exec(compile(notebooks.setup_cell_source(), "setup", "exec"), namespace)  # would install in Colab only
    assert "pip" not in namespace


def test_badge_is_added_and_replaced_and_setup_cell_inserted():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title\n\nText."),
                                         nbformat.v4.new_code_cell("x = 1")])
    fixed = transforms.with_header(nb, "notebooks/09_new.ipynb")
    assert fixed.cells[0].source == f"# Title\n\n{notebooks.badge_markdown('notebooks/09_new.ipynb')}\n\nText."
    assert fixed.cells[1].source == notebooks.setup_cell_source() and fixed.cells[2].source == "x = 1"
    old = nb.cells[0].source.replace("Text.", "[![Open In Colab](https://x/badge.svg)](https://old/url)")
    nb.cells[0].source = old
    assert transforms.with_header(nb, "solutions/09_new.ipynb").cells[0].source.count("colab.research.google.com/github") == 1


# --- strip_solutions --------------------------------------------------------------------------

METHOD = '''class Model:
    def forward(self, x):
        # TODO: apply the layers
        ### BEGIN SOLUTION
        x = self.layer(x)
        if x is None:
            return 0
        ### END SOLUTION
        return x
'''


def test_strip_keeps_the_indentation_of_the_marker():
    stripped, regions = transforms.strip_solutions(METHOD)
    assert regions == 1
    assert stripped == ('class Model:\n    def forward(self, x):\n        # TODO: apply the layers\n'
                        '        raise NotImplementedError("TODO: apply the layers")\n        return x\n')
    ast.parse(stripped)


def test_strip_drops_nbval_markers_and_quotes_safely():
    source = '# NBVAL_CHECK_OUTPUT\n# TODO: say "hi"\n### BEGIN SOLUTION\nprint("hi")\n### END SOLUTION'
    stripped, _ = transforms.strip_solutions(source)
    assert stripped == '# TODO: say "hi"\nraise NotImplementedError(\'TODO: say "hi"\')'
    with pytest.raises(NotImplementedError, match='say "hi"'):
        exec(stripped, {})


@pytest.mark.parametrize("marker", ["# NBVAL_SKIP", "#NBVAL_SKIP", "  #  NBVAL_IGNORE_OUTPUT"])
def test_nbval_markers_leave_the_student_notebook_and_stay_untranslated(marker):
    """nbval reads '# NBVAL_...' with or without the space: the build drops both, the translation leaves both."""
    source = f"{marker}\n# a comment\nx = 1"
    assert transforms.strip_solutions(source) == ("# a comment\nx = 1", 0)
    asked = []
    translation.translate_code(source, lambda unit: asked.append(unit.en))
    assert asked == ["a comment"]


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "TODO"),
    ("# TODO: x\n### BEGIN SOLUTION\nx = 1", "no matching"),
    ("x = 1\n### END SOLUTION", "without"),
    ("# TODO: x\n### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "no matching"),
])
def test_strip_rejects_malformed_regions(source, message):
    with pytest.raises(sources.BuildError, match=message):
        transforms.strip_solutions(source, "here")


def test_build_rejects_a_region_that_leaves_invalid_python(tmp_path, capsys):
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    bad = "def f():\n# TODO: body\n### BEGIN SOLUTION\n    return 1\n### END SOLUTION"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T"), nbformat.v4.new_code_cell(bad)])
    nbformat.write(nb, solutions / "01_bad.ipynb")
    assert run_main("--solutions", solutions, "--out", tmp_path / "out") == 2
    assert "01_bad.ipynb, cell 2" in capsys.readouterr().out and not (tmp_path / "out" / "01_bad.ipynb").exists()


# --- the student notebooks, executed as a student first opens them ------------------------------

WITH_EXERCISES = [name for name in EXPECTED_NAMES if exercise_cells(read(SOLUTIONS / name))]


def assigned_names(source):
    """Names a cell defines (assignments, def, class, imports, for targets)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


@pytest.mark.parametrize("name", WITH_EXERCISES)
def test_untouched_student_notebook_reports_not_implemented(name, tmp_path, monkeypatch):
    """Every check cell says "not implemented yet"; every other error comes from an unfinished exercise."""
    from nbclient import NotebookClient

    monkeypatch.setenv("LABUTILS_SMALL", "1")
    nb = read(STUDENT / name)
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    failed_names = set()
    checks = 0
    for cell in code_cells(nb):
        errors = [out for out in cell.outputs if out.output_type == "error"]
        if "labutils.checks.check_" in cell.source:
            checks += 1
            assert len(errors) == 1 and errors[0].ename == "CheckFailed", cell.source
            assert "not implemented yet" in errors[0].evalue, errors[0].evalue
            continue
        for error in errors:
            if error.ename == "NameError":
                missing = re.search(r"name '(\w+)' is not defined", error.evalue).group(1)
                assert missing in failed_names, f"{cell.source}\n{error.evalue}"
            else:
                assert error.ename == "NotImplementedError", f"{cell.source}\n{error.ename}: {error.evalue}"
        if errors:
            failed_names |= assigned_names(cell.source)
    assert checks == len(exercise_cells(read(SOLUTIONS / name)))


def test_build_keeps_a_students_edits_and_own_copies(tree, capsys):
    """A student's edited notebook and their own copy beside it survive a rebuild."""
    solutions, out = tree
    edited, copy = out / "03_batches.ipynb", out / "03_batches-my-copy.ipynb"
    nb = read(edited)
    next(c for c in code_cells(nb) if "NotImplementedError" in c.source).source = "x_batch = y_batch = None  # mine"
    nbformat.write(nb, edited)
    shutil.copy(edited, copy)  # a copy carries the build's metadata, as a File > Make a copy does
    mine = {p.name: p.read_bytes() for p in (edited, copy)}
    path = solutions / "03_batches.ipynb"  # the instructor changes the solution: a rebuild is due
    path.write_text(path.read_text(encoding="utf-8").replace("get_batch", "get_batch ", 1), encoding="utf-8")
    assert run_main("--solutions", solutions, "--out", out) == 0
    report = capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in (edited, copy)} == mine
    assert f"kept {edited}" in report and "--force" in report and "my-copy" not in report
    (solutions / "04_model.ipynb").unlink()  # a notebook the build wrote, unchanged, whose solution went
    run_main("--solutions", solutions, "--out", out, "--force")
    assert not (out / "04_model.ipynb").exists() and copy.read_bytes() == mine[copy.name]


@pytest.mark.parametrize("outside, flags", [("../victim.txt", []), ("../victim.txt", ["--force"]),
                                            ("ABSOLUTE", ["--force"])])
def test_a_manifest_entry_outside_the_output_folder_is_refused(tree, capsys, outside, flags):
    """A hostile manifest entry made the build delete a file outside notebooks/ (its sha256 matched)."""
    import hashlib
    import json

    solutions, out = tree
    victim = out.parent / "victim.txt"
    victim.write_text("someone's file\n", encoding="utf-8")
    name = str(victim) if outside == "ABSOLUTE" else outside
    manifest = out / ".build-manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["files"][name] = hashlib.sha256(victim.read_bytes()).hexdigest()
    manifest.write_text(json.dumps(data), encoding="utf-8")
    assert run_main("--solutions", solutions, "--out", out, *flags) == 2
    said = capsys.readouterr().out
    assert victim.read_text(encoding="utf-8") == "someone's file\n"
    assert said.startswith("error: ") and said.count("\n") == 1 and repr(name) in said and "outside" in said
    assert run_main("--check", "--solutions", solutions, "--out", out) == 2
    assert victim.is_file() and repr(name) in capsys.readouterr().out


def test_the_commands_run_from_the_repository_as_a_maintainer_runs_them():
    """`python -m labutils build-notebooks --check` (make test, the hooks) and `translations check`."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's labutils
    for command, said in ((["build-notebooks", "--check"], "notebooks/ is up to date with solutions/."),
                          (["translations", "check"], "Every catalog is complete.")):
        result = subprocess.run([sys.executable, "-m", "labutils", *command], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0 and said in result.stdout, result.stdout + result.stderr
