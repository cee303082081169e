"""The Gradescope autograder: the zip's run_autograder, run against local folders laid out like /autograder
(the first python3 on PATH being this Python), writes a valid results.json for every kind of submission."""
import json
import os
import signal
import stat
import subprocess
import sys
import time
import zipfile

import pytest
from test_grading import FULL, HEADER, UNTOUCHED, solution_source, write_notebook

from labutils import grading
from labutils.grading import gradescope

TOP_KEYS = {"score", "execution_time", "output", "visibility", "stdout_visibility", "tests"}
TEST_KEYS = {"score", "max_score", "status", "name", "number", "output", "tags", "visibility"}


def validate(results):
    """Gradescope's documented results.json format (the keys it reads, their types)."""
    assert set(results) <= TOP_KEYS and {"score", "tests", "output", "execution_time"} <= set(results)
    assert isinstance(results["score"], (int, float)) and isinstance(results["output"], str)
    assert isinstance(results["execution_time"], (int, float))
    assert [t["name"] for t in results["tests"]] == list(grading.RUBRIC)
    for test in results["tests"]:
        assert set(test) <= TEST_KEYS
        assert test["status"] in ("passed", "failed") and test["visibility"] in ("visible", "hidden", "after_due_date",
                                                                                 "after_published")
        assert 0 <= test["score"] <= test["max_score"] and isinstance(test["output"], str) and test["output"]
    assert results["score"] == sum(t["score"] for t in results["tests"])


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gradescope")
    zip_path = folder / "autograder.zip"
    assert gradescope.main(["--out", str(zip_path), "--timeout", "60", "--cell-timeout", "8"]) == 0
    bin_dir = folder / "bin"  # a PATH whose first python3 is this Python (as after setup.sh on Gradescope)
    bin_dir.mkdir()
    wrapper = bin_dir / "python3"  # a script, not a link: a link to a venv's python loses the venv
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    return zip_path, bin_dir


def _unpack(autograder, tmp_path, files):
    """An /autograder-like folder with the zip in source/ and `files` in submission/; (runner argv, env, root)."""
    zip_path, bin_dir = autograder
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
    runner = root / "source" / "run_autograder"
    runner.chmod(runner.stat().st_mode | stat.S_IEXEC)
    (root / "submission").mkdir(parents=True)
    (root / "results").mkdir()
    for name, write in files.items():
        write(root / "submission" / name)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}", "HOME": str(tmp_path),
           "LABUTILS_AUTOGRADER_ROOT": str(root), "OMP_NUM_THREADS": "1"}
    return ["bash", str(runner)], env, root


def _results(root):
    results = json.loads((root / "results" / "results.json").read_text())
    validate(results)
    return results


def _run(autograder, tmp_path, files):
    argv, env, root = _unpack(autograder, tmp_path, files)
    subprocess.run(argv, env=env, timeout=600, check=True, capture_output=True)
    return _results(root)


def test_zip_has_setup_and_run_autograder(autograder):
    with zipfile.ZipFile(autograder[0]) as archive:
        names = set(archive.namelist())
        setup = archive.read("setup.sh").decode()
    assert {"setup.sh", "run_autograder", "requirements.txt", "labutils/grading/gradescope.py"} <= names
    assert "download.pytorch.org/whl/cpu" in setup and "mitdeeplearning==0.7.5" in setup and "bubblewrap" in setup


def test_solution_untouched_and_broken_submissions(autograder, tmp_path):
    solution = _run(autograder, tmp_path / "a", {"lab.ipynb": lambda p: write_notebook(p, HEADER, solution_source()),
                                                 "notes.ipynb": lambda p: write_notebook(p, UNTOUCHED)})
    assert solution["score"] == FULL and all(t["status"] == "passed" for t in solution["tests"])
    untouched = _run(autograder, tmp_path / "b", {"lab.ipynb": lambda p: write_notebook(p, HEADER, UNTOUCHED)})
    assert untouched["score"] == 0 and "not implemented yet" in untouched["tests"][0]["output"]
    garbage = _run(autograder, tmp_path / "c", {"lab.ipynb": lambda p: p.write_text("not JSON {")})
    assert garbage["score"] == 0 and "not a readable notebook" in garbage["output"]
    nothing = _run(autograder, tmp_path / "d", {"answers.txt": lambda p: p.write_text("42")})
    assert nothing["score"] == 0 and "No .ipynb notebook" in nothing["output"] and "answers.txt" in nothing["output"]


LOOP = "import time\nwhile True:\n    try:\n        time.sleep(1)\n    except KeyboardInterrupt:\n        pass"
# An exercise defined before the loop: a notebook without one is read, not run (--run-all runs it).
EXERCISE = "def vectorize_string(string):\n    return None"


def test_looping_notebooks_end_within_the_total_time_with_a_reason_each(autograder, tmp_path):
    zip_path = tmp_path / "short.zip"
    assert gradescope.main(["--out", str(zip_path), "--timeout", "10", "--cell-timeout", "5",
                            "--total-timeout", "65"]) == 0
    names = [f"loop{i}.ipynb" for i in range(6)]
    argv, env, root = _unpack((zip_path, autograder[1]), tmp_path,
                              {n: lambda p: write_notebook(p, HEADER, EXERCISE, LOOP) for n in names})
    started = time.monotonic()
    done = subprocess.run(argv, env=env, timeout=300, check=True, capture_output=True)
    assert time.monotonic() - started < 65 + 30  # the total, and Python's start
    assert b"Isolation: " in done.stdout  # for the instructor (Gradescope hides stdout from students)
    results = _results(root)
    assert results["score"] == 0
    notes = results["output"]
    assert "loop0.ipynb: the notebook ran over the total timeout of 10 s" in notes
    ran_out = [name for name in names if f"{name}: not graded: the autograder's total time of 65 s ran out before it" in notes]
    assert ran_out and ran_out == names[-len(ran_out):]  # the last ones, once the total is spent
    for name in names[:-len(ran_out)]:  # each one before them was stopped by its own timeout
        assert f"{name}: the notebook ran over the total timeout of 10 s" in notes


def test_a_run_stopped_from_outside_leaves_a_results_json(autograder, tmp_path):
    argv, env, root = _unpack(autograder, tmp_path, {"loop.ipynb": lambda p: write_notebook(p, HEADER, EXERCISE, LOOP)})
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        results_file = root / "results" / "results.json"
        for _ in range(600):
            if results_file.exists():
                break
            time.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # as Gradescope does at its timeout
        process.wait()
    results = _results(root)
    assert results["score"] == 0 and "stopped before it finished" in results["output"]
